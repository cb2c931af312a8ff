//! Puts PostgreSQL's `numeric` into a plan fresh from the SQL planner, before type coercion:
//! DataFusion reads `1.5` as an Arrow decimal and `x::numeric(10,2)` as a cast to one, and
//! would compute with one scale per column. Here every such literal becomes a numeric value
//! with its own scale, every cast a `to_numeric`/`from_numeric` call, and every operator,
//! function and aggregate over numerics the `numeric_ops` function that computes it as
//! PostgreSQL does. The other operand of a mixed operation becomes numeric too (`x + 1`,
//! `x = '1.5'`), except a float: `numeric + float8` is a `float8`, as in PostgreSQL.
//!
//! Comparisons compare the values' keys, their bytes without the display scale, so `1.5 =
//! 1.50`; so do join keys, `count(DISTINCT ...)`, window partitions and orders. Grouping,
//! `DISTINCT` and set operations group by keys too, and show one of each group's values.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::{
    AggregateFunction, GroupingSet, InList, Placeholder, WindowFunction,
};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::utils::grouping_set_to_exprlist;
use datafusion::logical_expr::{
    Aggregate, Between, BinaryExpr, Case, Distinct, Expr, ExprSchemable, LogicalPlan, Operator,
    Projection, Union, Values, WindowFrameBound, WindowFrameUnits, WindowFunctionDefinition,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};
use datafusion::sql::sqlparser::ast::BinaryOperator;
use eddy_common::numeric::Numeric;
use eddy_common::numeric_array::{NUMERIC_ARROW, is_numeric};
use eddy_common::types::{NUMERIC_UNCONSTRAINED_PRECISION, NUMERIC_UNCONSTRAINED_SCALE};
use eddy_common::{Error, SqlState};

use crate::numeric_ops::{self, Op};

fn ty(e: &Expr, schema: &DFSchema) -> Option<DataType> {
    e.get_type(schema).ok()
}

fn num_type(e: &Expr, schema: &DFSchema) -> bool {
    ty(e, schema).is_some_and(|t| is_numeric(&t))
}

fn is_float(t: &DataType) -> bool {
    matches!(t, DataType::Float16 | DataType::Float32 | DataType::Float64)
}

fn numeric_literal(v: Option<Numeric>) -> Expr {
    Expr::Literal(ScalarValue::LargeBinary(v.map(|v| v.to_bytes())), None)
}

fn untyped_placeholder(e: &Expr) -> bool {
    matches!(e, Expr::Placeholder(Placeholder { field: None, .. }))
}

/// `e` as a numeric: as it is, a literal converted, a parameter typed, or a `to_numeric` call.
fn as_numeric(e: Expr, schema: &DFSchema) -> Expr {
    match e {
        e if num_type(&e, schema) => e,
        Expr::Literal(ScalarValue::Null, _) => numeric_literal(None),
        Expr::Placeholder(Placeholder { id, field: None }) => Expr::Placeholder(Placeholder {
            id,
            field: Some(Arc::new(datafusion::arrow::datatypes::Field::new(
                "",
                NUMERIC_ARROW,
                true,
            ))),
        }),
        e => numeric_ops::to_numeric(None).call(vec![e]),
    }
}

/// The scale-free key of a numeric (once: a comparison planned with keys is seen again).
fn key(e: Expr) -> Expr {
    match is_key(&e) {
        true => e,
        false => numeric_ops::udf(Op::Key).call(vec![e]),
    }
}

fn is_key(e: &Expr) -> bool {
    matches!(e, Expr::ScalarFunction(f) if f.func.name() == "numeric_key")
}

/// Puts a numeric `e` (not a key already) in place by its key; whether it did.
fn by_key(e: &mut Expr, schema: &DFSchema) -> bool {
    if !num_type(e, schema) || is_key(e) {
        return false;
    }
    let v = std::mem::replace(e, Expr::Literal(ScalarValue::Null, None));
    *e = key(v);
    true
}

fn unsupported_function(name: &str) -> datafusion::common::DataFusionError {
    datafusion::common::DataFusionError::External(Box::new(Error::new(
        SqlState::UNDEFINED_FUNCTION,
        format!("function {name}(numeric) does not exist"),
    )))
}

/// Functions that take any type and pass numerics through untouched, or compare them only
/// as their bytes order them (by value).
const PASS_THROUGH: &[&str] = &[
    "coalesce",
    "greatest",
    "least",
    "make_array",
    "array_append",
    "array_prepend",
    "array_concat",
    "array_length",
    "cardinality",
    "array_ndims",
    "array_dims",
    "array_element",
    "array_slice",
    "arrow_typeof",
    "named_struct",
    "struct",
    "isnull",
    "pg_typeof",
    // Refuses numerics itself, with a message that says so.
    "to_char",
    "json_build_object",
    "jsonb_build_object",
];

fn numeric_function(name: &str, args: &[Expr]) -> Option<Op> {
    Some(match (name, args.len()) {
        ("abs", 1) => Op::Abs,
        ("ceil" | "ceiling", 1) => Op::Ceil,
        ("floor", 1) => Op::Floor,
        ("sign" | "signum", 1) => Op::Sign,
        ("sqrt", 1) => Op::Sqrt,
        ("exp", 1) => Op::Exp,
        ("ln", 1) => Op::Ln,
        ("log10" | "log", 1) => Op::Log10,
        ("log", 2) => Op::Log,
        ("power" | "pow", 2) => Op::Power,
        ("mod", 2) => Op::Mod,
        ("round", 1 | 2) => Op::Round,
        ("trunc", 1 | 2) => Op::Trunc,
        _ => return None,
    })
}

/// The function `pg_syntax` writes `x::numeric(p,s)` as: `numeric_typmod(x, p, s)`.
pub const TYPMOD_CAST: &str = "numeric_typmod";

fn rewrite_expr(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let num = |e: &Expr| num_type(e, schema);
    Ok(match e {
        Expr::Literal(ScalarValue::Decimal128(v, _, s), _) => {
            Transformed::yes(numeric_literal(v.map(|v| Numeric::from_i128(v, s as i32))))
        }
        Expr::Literal(ScalarValue::Decimal256(v, _, s), _) => Transformed::yes(numeric_literal(
            v.and_then(|v| Numeric::from_mantissa_text(&v.to_string(), s as i32)),
        )),
        Expr::Cast(c) => cast(*c.expr, c.field.data_type(), schema)?,
        Expr::TryCast(c) => cast(*c.expr, c.field.data_type(), schema)?,
        Expr::Negative(inner) if num(&inner) => {
            Transformed::yes(numeric_ops::udf(Op::Neg).call(vec![*inner]))
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if num(&left) || num(&right) => {
            binary(*left, op, *right, schema)?
        }
        Expr::Between(b) if num(&b.expr) || num(&b.low) || num(&b.high) => {
            Transformed::yes(Expr::Between(Between {
                expr: Box::new(key(as_numeric(*b.expr, schema))),
                negated: b.negated,
                low: Box::new(key(as_numeric(*b.low, schema))),
                high: Box::new(key(as_numeric(*b.high, schema))),
            }))
        }
        Expr::InList(l) if num(&l.expr) || l.list.iter().any(num) => {
            Transformed::yes(Expr::InList(InList {
                expr: Box::new(key(as_numeric(*l.expr, schema))),
                list: (l.list.into_iter())
                    .map(|e| key(as_numeric(e, schema)))
                    .collect(),
                negated: l.negated,
            }))
        }
        Expr::Case(c) => case(c, schema)?,
        Expr::ScalarFunction(f) if f.func.name() == TYPMOD_CAST && f.args.len() == 3 => {
            let constant = |e: &Expr| match e {
                Expr::Literal(v, _) => Some(v.clone()),
                _ => None,
            };
            let (p, s) = (constant(&f.args[1]), constant(&f.args[2]));
            let typmod = numeric_ops::constant_typmod(p.as_ref(), s.as_ref())?;
            let inner = f.args.into_iter().next().expect("three arguments");
            Transformed::yes(numeric_ops::to_numeric(Some(typmod)).call(vec![inner]))
        }
        Expr::ScalarFunction(f) if f.args.iter().any(num) => {
            let name = f.func.name().to_ascii_lowercase();
            if let Some(op) = numeric_function(&name, &f.args) {
                let mut args: Vec<Expr> = f.args;
                let n = args.len();
                if matches!(op, Op::Round | Op::Trunc) {
                    if n == 1 {
                        args.push(Expr::Literal(ScalarValue::Int32(Some(0)), None));
                    }
                } else {
                    args = args.into_iter().map(|a| as_numeric(a, schema)).collect();
                }
                return Ok(Transformed::yes(numeric_ops::udf(op).call(args)));
            }
            match name.as_str() {
                "nullif" => {
                    // NULLIF(a, b) is NULL when a = b, compared by value.
                    let mut args = f.args.into_iter().map(|a| as_numeric(a, schema));
                    let (a, b) = (args.next().expect("two"), args.next().expect("two"));
                    Transformed::yes(Expr::Case(Case {
                        expr: None,
                        when_then_expr: vec![(
                            Box::new(key(a.clone()).eq(key(b))),
                            Box::new(numeric_literal(None)),
                        )],
                        else_expr: Some(Box::new(a)),
                    }))
                }
                "coalesce" | "greatest" | "least" | "make_array" | "generate_series" => {
                    let args = f.args.into_iter().map(|a| as_numeric(a, schema)).collect();
                    Transformed::yes(Expr::ScalarFunction(
                        datafusion::logical_expr::expr::ScalarFunction::new_udf(f.func, args),
                    ))
                }
                "concat" | "concat_ws" => {
                    // Text of a numeric is what it prints.
                    let args = (f.args.into_iter())
                        .map(|a| match num(&a) {
                            true => numeric_ops::from_numeric(DataType::Utf8).call(vec![a]),
                            false => a,
                        })
                        .collect();
                    Transformed::yes(Expr::ScalarFunction(
                        datafusion::logical_expr::expr::ScalarFunction::new_udf(f.func, args),
                    ))
                }
                n if PASS_THROUGH.contains(&n) || n.starts_with("numeric_") => {
                    Transformed::no(Expr::ScalarFunction(f))
                }
                n if n == "to_numeric" || n == "from_numeric" || n.starts_with("array_") => {
                    Transformed::no(Expr::ScalarFunction(f))
                }
                _ => return Err(unsupported_function(&name)),
            }
        }
        Expr::AggregateFunction(f) => aggregate(f, schema)?,
        Expr::WindowFunction(w) => window(*w, schema)?,
        e => Transformed::no(e),
    })
}

fn cast(inner: Expr, to: &DataType, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let from_num = num_type(&inner, schema);
    let rebuilt = |inner: Expr| {
        Expr::Cast(datafusion::logical_expr::Cast::new(
            Box::new(inner),
            to.clone(),
        ))
    };
    Ok(match to {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            let typmod =
                if (*p, *s) == (NUMERIC_UNCONSTRAINED_PRECISION, NUMERIC_UNCONSTRAINED_SCALE) {
                    None
                } else {
                    Some((*p as u16, *s as i16))
                };
            if from_num && typmod.is_none() {
                return Ok(Transformed::yes(inner));
            }
            Transformed::yes(numeric_ops::to_numeric(typmod).call(vec![inner]))
        }
        DataType::LargeBinary => Transformed::yes(as_numeric(inner, schema)),
        to if from_num => match to {
            DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Float32
            | DataType::Float64
            | DataType::Utf8 => {
                Transformed::yes(numeric_ops::from_numeric(to.clone()).call(vec![inner]))
            }
            DataType::Utf8View | DataType::LargeUtf8 => Transformed::yes(rebuilt(
                numeric_ops::from_numeric(DataType::Utf8).call(vec![inner]),
            )),
            other => {
                return Err(datafusion::common::DataFusionError::External(Box::new(
                    Error::new(
                        SqlState::CANNOT_COERCE,
                        format!(
                            "cannot cast type numeric to {}",
                            eddy_common::PgType::from_arrow(other)
                        ),
                    ),
                )));
            }
        },
        _ => Transformed::no(rebuilt(inner)),
    })
}

fn binary(left: Expr, op: Operator, right: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let (lt, rt) = (ty(&left, schema), ty(&right, schema));
    // numeric with a float is float8 arithmetic, as in PostgreSQL.
    if lt.as_ref().is_some_and(is_float) || rt.as_ref().is_some_and(is_float) {
        let f = |e: Expr| match num_type(&e, schema) {
            true => numeric_ops::from_numeric(DataType::Float64).call(vec![e]),
            false => e,
        };
        return Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
            Box::new(f(left)),
            op,
            Box::new(f(right)),
        ))));
    }
    let arith = |o: Op, l: Expr, r: Expr| {
        numeric_ops::udf(o).call(vec![as_numeric(l, schema), as_numeric(r, schema)])
    };
    Ok(Transformed::yes(match op {
        Operator::Plus => arith(Op::Add, left, right),
        Operator::Minus => arith(Op::Sub, left, right),
        Operator::Multiply => arith(Op::Mul, left, right),
        Operator::Divide => arith(Op::Div, left, right),
        Operator::Modulo => arith(Op::Mod, left, right),
        Operator::Eq
        | Operator::NotEq
        | Operator::Lt
        | Operator::LtEq
        | Operator::Gt
        | Operator::GtEq
        | Operator::IsDistinctFrom
        | Operator::IsNotDistinctFrom => Expr::BinaryExpr(BinaryExpr::new(
            Box::new(key(as_numeric(left, schema))),
            op,
            Box::new(key(as_numeric(right, schema))),
        )),
        Operator::StringConcat => {
            let text = |e: Expr| match num_type(&e, schema) {
                true => numeric_ops::from_numeric(DataType::Utf8).call(vec![e]),
                false => e,
            };
            Expr::BinaryExpr(BinaryExpr::new(
                Box::new(text(left)),
                op,
                Box::new(text(right)),
            ))
        }
        _ => {
            return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr::new(
                Box::new(left),
                op,
                Box::new(right),
            ))));
        }
    }))
}

fn case(c: Case, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let results_numeric = c
        .when_then_expr
        .iter()
        .map(|(_, t)| t.as_ref())
        .chain(c.else_expr.as_deref())
        .any(|e| num_type(e, schema));
    let base_numeric = c.expr.as_deref().is_some_and(|e| num_type(e, schema))
        || (c.expr.is_some() && c.when_then_expr.iter().any(|(w, _)| num_type(w, schema)));
    if !results_numeric && !base_numeric {
        return Ok(Transformed::no(Expr::Case(c)));
    }
    let result = |e: Expr| match results_numeric && !untyped_placeholder(&e) {
        true => as_numeric(e, schema),
        false => e,
    };
    let when = |e: Expr| match base_numeric {
        true => key(as_numeric(e, schema)),
        false => e,
    };
    Ok(Transformed::yes(Expr::Case(Case {
        expr: c.expr.map(|e| Box::new(when(*e))),
        when_then_expr: (c.when_then_expr.into_iter())
            .map(|(w, t)| (Box::new(when(*w)), Box::new(result(*t))))
            .collect(),
        else_expr: c.else_expr.map(|e| Box::new(result(*e))),
    })))
}

/// The numeric aggregate replacing DataFusion's `sum`, `avg`, `var*` or `stddev*` over these
/// arguments, if any: over numerics, and for all but `sum` over integers (a numeric in
/// PostgreSQL).
fn numeric_aggregate(
    name: &str,
    args: &[Expr],
    schema: &DFSchema,
) -> Option<Arc<datafusion::logical_expr::AggregateUDF>> {
    let [arg] = args else { return None };
    let t = ty(arg, schema)?;
    let kind = numeric_ops::AggFn::of_datafusion(name)?;
    kind.over(&t).then(|| numeric_ops::aggregate(kind))
}

fn aggregate(mut f: AggregateFunction, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let name = f.func.name().to_ascii_lowercase();
    if let Some(udaf) = numeric_aggregate(&name, &f.params.args, schema) {
        f.func = udaf;
        return Ok(Transformed::yes(Expr::AggregateFunction(f)));
    }
    let any_numeric = f.params.args.iter().any(|a| num_type(a, schema));
    if !any_numeric {
        return Ok(Transformed::no(Expr::AggregateFunction(f)));
    }
    match name.as_str() {
        "count" if f.params.distinct => {
            f.params.args = f.params.args.into_iter().map(key).collect();
            Ok(Transformed::yes(Expr::AggregateFunction(f)))
        }
        "count" | "min" | "max" | "array_agg" | "first_value" | "last_value" | "any_value"
        | "grouping" => Ok(Transformed::no(Expr::AggregateFunction(f))),
        _ => Err(unsupported_function(&name)),
    }
}

fn window(mut w: WindowFunction, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let mut changed = false;
    if let WindowFunctionDefinition::AggregateUDF(f) = &w.fun {
        let name = f.name().to_ascii_lowercase();
        if let Some(udaf) = numeric_aggregate(&name, &w.params.args, schema) {
            w.fun = WindowFunctionDefinition::AggregateUDF(udaf);
            changed = true;
        }
    }
    for p in w.params.partition_by.iter_mut() {
        changed |= by_key(p, schema);
    }
    // Equal numerics are peers in the window's order (`rank`, RANGE frames) whatever their
    // scales: order by keys, which sort as the values do. A RANGE frame with an offset needs
    // the values themselves, to add the offset to (DataFusion has no such frame over them).
    let frame = &mut w.params.window_frame;
    let offset = |b: &WindowFrameBound| match b {
        WindowFrameBound::Preceding(v) | WindowFrameBound::Following(v) => !v.is_null(),
        WindowFrameBound::CurrentRow => false,
    };
    let range = frame.units == WindowFrameUnits::Range;
    if !(range && (offset(&frame.start_bound) || offset(&frame.end_bound))) {
        for s in w.params.order_by.iter_mut() {
            if by_key(&mut s.expr, schema) {
                changed = true;
                // Without offsets a RANGE frame reaches the ends or the current row's peers,
                // as GROUPS does; DataFusion takes RANGE frames only over Arrow's numbers.
                if range {
                    frame.units = WindowFrameUnits::Groups;
                }
            }
        }
    }
    let t = Expr::WindowFunction(Box::new(w));
    Ok(if changed {
        Transformed::yes(t)
    } else {
        Transformed::no(t)
    })
}

/// A `VALUES` list whose column holds a numeric anywhere holds numerics in every row.
fn values(v: Values) -> Result<Transformed<LogicalPlan>> {
    let empty = DFSchema::empty();
    let mut rows: Vec<Vec<Expr>> = (v.values.into_iter())
        .map(|row| {
            row.into_iter()
                .map(|e| e.transform_up(|e| rewrite_expr(e, &empty)).map(|t| t.data))
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let mut changed = false;
    let width = v.schema.fields().len();
    let mut fields = vec![];
    for i in 0..width {
        let (qualifier, field) = v.schema.qualified_field(i);
        let declared = field.data_type();
        let numeric = matches!(
            declared,
            DataType::Decimal128(..) | DataType::Decimal256(..)
        ) || rows.iter().any(|r| num_type(&r[i], &empty));
        if numeric {
            changed = true;
            for r in rows.iter_mut() {
                let e = std::mem::replace(&mut r[i], Expr::Literal(ScalarValue::Null, None));
                r[i] = as_numeric(e, &empty);
            }
        }
        let t = if numeric {
            NUMERIC_ARROW
        } else {
            declared.clone()
        };
        let f = datafusion::arrow::datatypes::Field::new(field.name(), t, field.is_nullable())
            .with_metadata(field.metadata().clone());
        fields.push((qualifier.cloned(), Arc::new(f)));
    }
    let schema = DFSchema::new_with_metadata(fields, v.schema.metadata().clone())?;
    let plan = LogicalPlan::Values(Values {
        schema: Arc::new(schema),
        values: rows,
    });
    Ok(if changed {
        Transformed::yes(plan)
    } else {
        Transformed::no(plan)
    })
}

/// A union whose column is numeric in one input casts the other inputs' column to numeric.
fn union(u: Union) -> Result<Transformed<LogicalPlan>> {
    let width = u.schema.fields().len();
    let numeric_cols: Vec<bool> = (0..width)
        .map(|i| {
            u.inputs
                .iter()
                .any(|p| is_numeric(p.schema().field(i).data_type()))
        })
        .collect();
    if !numeric_cols.iter().any(|b| *b) {
        return Ok(Transformed::no(LogicalPlan::Union(u)));
    }
    let mut inputs = vec![];
    for input in u.inputs {
        let needs =
            (0..width).any(|i| numeric_cols[i] && !is_numeric(input.schema().field(i).data_type()));
        if !needs {
            inputs.push(input);
            continue;
        }
        let schema = input.schema().clone();
        let exprs = (0..width)
            .map(|i| {
                let (q, f) = schema.qualified_field(i);
                let col = Expr::Column(datafusion::common::Column::new(q.cloned(), f.name()));
                match numeric_cols[i] && !is_numeric(f.data_type()) {
                    true => as_numeric(col, &schema).alias_qualified(q.cloned(), f.name()),
                    false => col,
                }
            })
            .collect();
        inputs.push(Arc::new(LogicalPlan::Projection(Projection::try_new(
            exprs, input,
        )?)));
    }
    let fields = (0..width)
        .map(|i| {
            let (q, f) = u.schema.qualified_field(i);
            let t = if numeric_cols[i] {
                NUMERIC_ARROW
            } else {
                f.data_type().clone()
            };
            (
                q.cloned(),
                Arc::new(
                    datafusion::arrow::datatypes::Field::new(f.name(), t, true)
                        .with_metadata(f.metadata().clone()),
                ),
            )
        })
        .collect();
    let schema = DFSchema::new_with_metadata(fields, u.schema.metadata().clone())?;
    Ok(Transformed::yes(LogicalPlan::Union(Union {
        inputs,
        schema: Arc::new(schema),
    })))
}

/// Join keys compare numerics by value.
fn join_keys(node: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let LogicalPlan::Join(mut j) = node else {
        return Ok(Transformed::no(node));
    };
    let (ls, rs) = (j.left.schema().clone(), j.right.schema().clone());
    let mut changed = false;
    j.on = (j.on.into_iter())
        .map(|(l, r)| {
            if num_type(&l, &ls) || num_type(&r, &rs) {
                changed = true;
                (key(as_numeric(l, &ls)), key(as_numeric(r, &rs)))
            } else {
                (l, r)
            }
        })
        .collect();
    let plan = LogicalPlan::Join(j);
    Ok(if changed {
        Transformed::yes(plan)
    } else {
        Transformed::no(plan)
    })
}

/// Groups numerics by value, as PostgreSQL does (`1.5` and `1.50` are one group): a numeric
/// grouping expression becomes its key, and the group shows the `max` of its values' bytes,
/// one of the equal values as it was written. `max` rather than the first value met, because
/// a view must be able to take that value back out. `SELECT DISTINCT` over numerics, and so
/// `UNION`, `INTERSECT` and `EXCEPT`, become such a grouping.
fn group_by_value(node: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let numeric_field = |p: &LogicalPlan| {
        p.schema()
            .fields()
            .iter()
            .any(|f| is_numeric(f.data_type()))
    };
    let node = match node {
        LogicalPlan::Distinct(Distinct::All(input)) if numeric_field(&input) => {
            let groups = input
                .schema()
                .columns()
                .into_iter()
                .map(Expr::Column)
                .collect();
            LogicalPlan::Aggregate(Aggregate::try_new(input, groups, vec![])?)
        }
        // DISTINCT ON numerics: one row per value, the first in an order where equal values
        // are ties.
        LogicalPlan::Distinct(Distinct::On(mut on)) => {
            let schema = on.input.schema().clone();
            let mut changed = false;
            for e in on.on_expr.iter_mut() {
                changed |= by_key(e, &schema);
            }
            for s in on.sort_expr.iter_mut().flatten() {
                changed |= by_key(&mut s.expr, &schema);
            }
            let plan = LogicalPlan::Distinct(Distinct::On(on));
            return Ok(match changed {
                true => Transformed::yes(plan),
                false => Transformed::no(plan),
            });
        }
        n => n,
    };
    let LogicalPlan::Aggregate(a) = node else {
        return Ok(Transformed::no(node));
    };
    let in_schema = a.input.schema().clone();
    let old_groups: Vec<Expr> = grouping_set_to_exprlist(&a.group_expr)?
        .into_iter()
        .cloned()
        .collect();
    let numeric_groups: Vec<Expr> = (old_groups.iter())
        .filter(|g| num_type(g, &in_schema) && !is_key(g))
        .cloned()
        .collect();
    if numeric_groups.is_empty() {
        return Ok(Transformed::no(LogicalPlan::Aggregate(a)));
    }
    let to_key = |e: Expr| match numeric_groups.contains(&e) {
        true => key(e),
        false => e,
    };
    let grouping_sets = matches!(a.group_expr.as_slice(), [Expr::GroupingSet(_)]);
    let keys = |v: Vec<Expr>| v.into_iter().map(to_key).collect::<Vec<_>>();
    let group_expr = (a.group_expr.iter().cloned())
        .map(|g| match g {
            Expr::GroupingSet(GroupingSet::Rollup(v)) => {
                Expr::GroupingSet(GroupingSet::Rollup(keys(v)))
            }
            Expr::GroupingSet(GroupingSet::Cube(v)) => {
                Expr::GroupingSet(GroupingSet::Cube(keys(v)))
            }
            Expr::GroupingSet(GroupingSet::GroupingSets(sets)) => Expr::GroupingSet(
                GroupingSet::GroupingSets(sets.into_iter().map(keys).collect()),
            ),
            g => to_key(g),
        })
        .collect::<Vec<_>>();
    // `grouping(x)` names a grouping expression, which is now `x`'s key.
    let mut aggr_expr = (a.aggr_expr.iter().cloned())
        .map(|e| {
            e.transform_up(|e| match e {
                Expr::AggregateFunction(mut f) if f.func.name() == "grouping" => {
                    f.params.args = keys(f.params.args);
                    Ok(Transformed::yes(Expr::AggregateFunction(f)))
                }
                e => Ok(Transformed::no(e)),
            })
            .map(|t| t.data)
        })
        .collect::<Result<Vec<_>>>()?;
    for (i, g) in numeric_groups.iter().enumerate() {
        aggr_expr.push(
            datafusion::functions_aggregate::expr_fn::max(g.clone())
                .alias(format!("__eddy_group_value_{i}")),
        );
    }
    let old_schema = a.schema.clone();
    let new = Aggregate::try_new(a.input, group_expr, aggr_expr)?;
    let new_schema = new.schema.clone();
    let reps_at = new_schema.fields().len() - numeric_groups.len();
    let col = |j: usize| {
        let (q, f) = new_schema.qualified_field(j);
        Expr::Column(datafusion::common::Column::new(q.cloned(), f.name()))
    };
    // The grouping set id is internal: `grouping()` is computed from it below this
    // projection, and nothing above reads it.
    let exprs = (0..old_schema.fields().len())
        .filter(|j| old_schema.field(*j).name() != Aggregate::INTERNAL_GROUPING_ID)
        .map(|j| {
            let (q, f) = old_schema.qualified_field(j);
            let rep = (old_groups.get(j)).and_then(|g| numeric_groups.iter().position(|n| n == g));
            let e = match rep {
                // Under grouping sets, a group without `x` shows NULL for it.
                Some(r) if grouping_sets => Expr::Case(Case {
                    expr: None,
                    when_then_expr: vec![(
                        Box::new(col(j).is_null()),
                        Box::new(Expr::Literal(ScalarValue::LargeBinary(None), None)),
                    )],
                    else_expr: Some(Box::new(col(reps_at + r))),
                }),
                Some(r) => col(reps_at + r),
                None => col(j),
            };
            e.alias_qualified(q.cloned(), f.name())
        })
        .collect();
    Ok(Transformed::yes(LogicalPlan::Projection(
        Projection::try_new(exprs, Arc::new(LogicalPlan::Aggregate(new)))?,
    )))
}

/// Rewrites a freshly planned (not yet analyzed) plan to compute `numeric` as PostgreSQL does.
pub fn pg_numeric(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        let node = match node {
            LogicalPlan::Values(v) => return values(v),
            LogicalPlan::Union(u) => return union(u),
            n => n,
        };
        let node = join_keys(node)?.data;
        let schema = crate::merged_input_schema(&node);
        let out = crate::map_expressions_keeping_names(node, |e| {
            e.transform_up(|e| rewrite_expr(e, &schema))
        })?;
        // Recomputed even when nothing here changed: an input's types may have.
        Ok(Transformed::yes(
            group_by_value(out.data.recompute_schema()?)?.data,
        ))
    })
    .map(|t| t.data)
}

/// DataFusion's `single_distinct_aggregation_to_group_by`, except over a DISTINCT aggregate
/// of numerics: that rule groups by the values' bytes, which tell `1.5` from `1.50`, while
/// the numeric aggregates deduplicate by value themselves. (`count(DISTINCT x)` counts keys,
/// which group rightly, and is left to the rule.)
#[derive(Debug)]
pub struct SingleDistinctExceptNumeric(pub Arc<dyn OptimizerRule + Send + Sync>);

impl OptimizerRule for SingleDistinctExceptNumeric {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        self.0.apply_order()
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if let LogicalPlan::Aggregate(a) = &plan {
            let schema = a.input.schema();
            let numeric_distinct = |e: &Expr| {
                e.exists(|e| {
                    Ok(matches!(e, Expr::AggregateFunction(f) if f.params.distinct
                        && f.params.args.iter().any(|a| num_type(a, schema) && !is_key(a))))
                })
            };
            for e in &a.aggr_expr {
                if numeric_distinct(e)? {
                    return Ok(Transformed::no(plan));
                }
            }
        }
        self.0.rewrite(plan, config)
    }
}

/// Binary operators with a `numeric` operand, planned as the `numeric_ops` functions while
/// DataFusion plans: it types each operation as it builds it, and has no arithmetic on the
/// numeric columns' Arrow type.
#[derive(Debug, Default)]
pub struct NumericOperators;

impl ExprPlanner for NumericOperators {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let (lt, rt) = (ty(&expr.left, schema), ty(&expr.right, schema));
        let numeric = |t: &Option<DataType>| t.as_ref().is_some_and(is_numeric);
        if !numeric(&lt) && !numeric(&rt) {
            return Ok(PlannerResult::Original(expr));
        }
        let interval = |t: &Option<DataType>| matches!(t, Some(DataType::Interval(_)));
        if interval(&lt) || interval(&rt) {
            // An interval scaled by a numeric is scaled by its float8 value.
            let f = |e: Expr, t: &Option<DataType>| match numeric(t) {
                true => numeric_ops::from_numeric(DataType::Float64).call(vec![e]),
                false => e,
            };
            return Ok(PlannerResult::Original(RawBinaryExpr {
                op: expr.op,
                left: f(expr.left, &lt),
                right: f(expr.right, &rt),
            }));
        }
        let op = match expr.op {
            BinaryOperator::Plus => Operator::Plus,
            BinaryOperator::Minus => Operator::Minus,
            BinaryOperator::Multiply => Operator::Multiply,
            BinaryOperator::Divide => Operator::Divide,
            BinaryOperator::Modulo => Operator::Modulo,
            BinaryOperator::Eq => Operator::Eq,
            BinaryOperator::NotEq => Operator::NotEq,
            BinaryOperator::Lt => Operator::Lt,
            BinaryOperator::LtEq => Operator::LtEq,
            BinaryOperator::Gt => Operator::Gt,
            BinaryOperator::GtEq => Operator::GtEq,
            BinaryOperator::StringConcat => Operator::StringConcat,
            BinaryOperator::PGExp => {
                let (l, r) = (
                    as_numeric(expr.left, schema),
                    as_numeric(expr.right, schema),
                );
                return Ok(PlannerResult::Planned(
                    numeric_ops::udf(Op::Power).call(vec![l, r]),
                ));
            }
            _ => return Ok(PlannerResult::Original(expr)),
        };
        Ok(PlannerResult::Planned(
            binary(expr.left, op, expr.right, schema)?.data,
        ))
    }
}
