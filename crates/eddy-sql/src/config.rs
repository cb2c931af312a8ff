//! A DataFusion session set up to behave like PostgreSQL where the two differ.

use std::sync::Arc;

use datafusion::catalog::CatalogProvider;
use datafusion::prelude::{SessionConfig, SessionContext};
use eddy_catalog::{DATABASE_NAME, DEFAULT_SCHEMA};

use crate::functions;

/// Partitions DataFusion splits a batch query into: one per core of the target machine.
const QUERY_PARTITIONS: usize = 2;

pub fn new_context(catalog: Arc<dyn CatalogProvider>) -> SessionContext {
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(DATABASE_NAME, DEFAULT_SCHEMA)
        .with_create_default_catalog_and_schema(false)
        .with_information_schema(false)
        .with_target_partitions(QUERY_PARTITIONS);
    let opts = config.options_mut();
    // `1.5` is numeric in PostgreSQL, not float8: it prints and adds exactly.
    opts.sql_parser.parse_float_as_decimal = true;
    // Tables store Utf8; keep computed strings the same type so results encode uniformly.
    opts.sql_parser.map_string_types_to_utf8view = false;
    opts.execution.time_zone = Some("+00:00".to_string());
    let rules = (datafusion::optimizer::Optimizer::new().rules.into_iter())
        .map(|r| match r.name() {
            "single_distinct_aggregation_to_group_by" => {
                Arc::new(crate::numeric_plan::SingleDistinctExceptNumeric(r)) as _
            }
            _ => r,
        })
        .collect();
    let state = datafusion::execution::SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_optimizer_rules(rules)
        .with_query_planner(Arc::new(crate::apply::ApplyPlanner))
        .build();
    let mut ctx = SessionContext::new_with_state(state);
    ctx.register_catalog(DATABASE_NAME, catalog);
    // Operators on numerics first: an interval times a numeric becomes a float8 factor here,
    // which the interval planner then takes.
    let _ = datafusion::execution::FunctionRegistry::register_expr_planner(
        &mut ctx,
        Arc::new(crate::numeric_plan::NumericOperators),
    );
    // `->` and `->>` on json/jsonb; registering cannot fail for a planner
    let _ = datafusion::execution::FunctionRegistry::register_expr_planner(
        &mut ctx,
        Arc::new(crate::json_ops::JsonOperators::default()),
    );
    let _ = datafusion::execution::FunctionRegistry::register_expr_planner(
        &mut ctx,
        Arc::new(crate::interval_ops::IntervalArithmetic::default()),
    );
    functions::register(&ctx);
    crate::numeric_fns::register(&ctx);
    // Last: these wrap the functions registered above.
    crate::numeric_ops::register(&ctx);
    crate::series::register(&ctx);
    ctx
}

/// PostgreSQL's `numeric`: its operators while planning, and the functions and aggregates
/// that take it.
pub fn register_numeric(ctx: &mut SessionContext) {
    // registering cannot fail for a planner
    let _ = datafusion::execution::FunctionRegistry::register_expr_planner(
        ctx,
        Arc::new(crate::numeric_plan::NumericOperators),
    );
    crate::numeric_ops::register(ctx);
}
