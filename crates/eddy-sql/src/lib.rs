//! `eddy-sql`: the SQL front end, pure functions from text to plans and definitions.
//!
//! It parses with sqlparser's PostgreSQL dialect, resolves names the PostgreSQL way, turns DDL
//! into catalog definitions, rewrites UPDATE/DELETE into queries DataFusion can plan, parses COPY
//! options, and sets DataFusion up to behave like PostgreSQL (configuration, the functions
//! clients call, PostgreSQL-only syntax rewritten before planning, and correlated subqueries
//! DataFusion cannot decorrelate run per outer row). It does no I/O and must never depend on storage, the wire or the server. The
//! streaming planner (`stream_plan`) compiles an optimized DataFusion `LogicalPlan` into an
//! `eddy-dataflow` operator tree, refusing (0A000) what it cannot maintain incrementally.

pub mod apply;
pub mod checked_ints;
pub mod config;
pub mod copy_options;
pub mod ddl;
pub mod dml;
pub mod functions;
pub mod int_types;
pub mod interval_ops;
pub mod json_ops;
pub mod lateral;
pub mod names;
pub mod numeric_fns;
pub mod numeric_ops;
pub mod numeric_plan;
pub mod parse;
pub mod pg_syntax;
pub mod series;
pub mod stream_plan;
pub mod subscribe;
pub mod time_zone;
pub mod to_char;

pub use datafusion::sql::sqlparser;

/// The schema a node's expressions are typed against.
pub fn merged_input_schema(
    node: &datafusion::logical_expr::LogicalPlan,
) -> datafusion::common::DFSchema {
    let mut schema = datafusion::common::DFSchema::empty();
    for input in node.inputs() {
        schema.merge(input.schema());
    }
    if node.inputs().is_empty() {
        schema.merge(node.schema());
    }
    schema
}

/// Rewrites each expression of `node` with `f`, keeping the names of the columns it outputs
/// (the nodes above find them by name) wherever `f` changed an expression.
pub fn map_expressions_keeping_names(
    node: datafusion::logical_expr::LogicalPlan,
    mut f: impl FnMut(
        datafusion::logical_expr::Expr,
    ) -> datafusion::common::Result<
        datafusion::common::tree_node::Transformed<datafusion::logical_expr::Expr>,
    >,
) -> datafusion::common::Result<
    datafusion::common::tree_node::Transformed<datafusion::logical_expr::LogicalPlan>,
> {
    use datafusion::common::tree_node::Transformed;
    let names = datafusion::logical_expr::expr_rewriter::NamePreserver::new(&node);
    node.map_expressions(|e| {
        let saved = names.save(&e);
        let out = f(e)?;
        Ok(match out.transformed {
            true => Transformed::yes(saved.restore(out.data)),
            false => out,
        })
    })
}
