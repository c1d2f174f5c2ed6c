//! [`Condition`]: a conditional expression compiled once at plan time into a tree of typed nodes
//! (field paths parsed, regexes compiled, literals converted) that evaluates against an event
//! without allocating.
//!
//! Semantics follow Logstash:
//! - `==` / `!=` compare values: integers and floats numerically, arrays and hashes deeply, and
//!   a string never equals a number (`"200" == 200` is false). A missing field compares like
//!   `nil`: it equals only another missing (or null) field.
//! - `< > <= >=` order two numbers or two strings (or two timestamps). Any other pair of types
//!   is an evaluation error: the whole condition is false, a warning is logged the first time,
//!   and [`Condition::error_count`] counts every occurrence. A missing operand is simply false.
//! - `in`: substring when the haystack is a string, membership when it is an array, key when it
//!   is a hash; false when either side is missing.
//! - `=~` / `!~`: the pattern is a regex literal or a string compiled as a regex; a number is
//!   matched in its text form; a missing field never matches (so `!~` on it is true).
//! - A bare operand is tested for truthiness ([`Value::is_truthy`]).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use regex::Regex;

use crate::config::ast::{self, BoolOp, CompareOp, Number, RValue};
use crate::config::options::{substitute_env, EnvLookup};
use crate::config::source::regex_error_summary;
use crate::config::{Diagnostic, Diagnostics, Span, Spanned};
use crate::event::ruby::{write_ruby_float, StackStr};
use crate::event::{Event, FieldPath, Text, Value};

/// A compiled condition.
#[derive(Debug)]
pub struct Condition {
    root: Node,
    /// The condition as written (normalised), for warnings.
    text: String,
    span: Span,
    errors: AtomicU64,
    warned: AtomicBool,
}

/// One node of the compiled tree.
#[derive(Debug)]
enum Node {
    Bool(BoolOp, Box<Node>, Box<Node>),
    Not(Box<Node>),
    Compare(CompareOp, Operand, Operand),
    Match {
        negated: bool,
        lhs: Operand,
        regex: Regex,
    },
    In {
        negated: bool,
        needle: Operand,
        haystack: Operand,
    },
    Truthy(Operand),
}

/// A value a node reads: a field of the event or a literal.
#[derive(Debug)]
enum Operand {
    Field(FieldPath),
    Const(Value),
}

/// Two values of types that cannot be ordered against each other.
#[derive(Debug, Clone, Copy)]
struct Mismatch {
    left: &'static str,
    right: &'static str,
}

static NULL: Value = Value::Null;

impl Operand {
    #[inline]
    fn get<'a>(&'a self, event: &'a Event) -> Option<&'a Value> {
        match self {
            Operand::Field(path) => event.get(path),
            Operand::Const(value) => Some(value),
        }
    }
}

impl Condition {
    /// Compiles `expr`; `${VAR}` in string literals is substituted from `env`. Errors (bad field
    /// reference, invalid regex, ...) point at the offending operand.
    pub fn compile(expr: &Spanned<ast::Expr>, env: &EnvLookup) -> Result<Condition, Diagnostics> {
        let mut errors = Diagnostics::default();
        let root = compile_expr(expr, env, &mut errors);
        match root {
            Some(root) if errors.is_empty() => {
                let mut text = String::new();
                describe_expr(&expr.node, &mut text);
                Ok(Condition {
                    root,
                    text,
                    span: expr.span,
                    errors: AtomicU64::new(0),
                    warned: AtomicBool::new(false),
                })
            }
            _ => Err(errors),
        }
    }

    /// Evaluates against `event`.
    pub fn eval(&self, event: &Event) -> bool {
        match self.root.eval(event) {
            Ok(result) => result,
            Err(mismatch) => {
                self.record_error(mismatch);
                false
            }
        }
    }

    /// How many evaluations failed with a type error (and so counted as false).
    pub fn error_count(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The condition as written (normalised: one space around operators).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Where the condition is in the config.
    pub fn span(&self) -> Span {
        self.span
    }

    #[cold]
    fn record_error(&self, mismatch: Mismatch) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        // One warning per condition: a type error usually repeats for every event.
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                condition = %self.text,
                "cannot compare {} with {}; the condition is false (later errors of this \
                 condition are only counted)",
                mismatch.left,
                mismatch.right
            );
        }
    }
}

impl Node {
    fn eval(&self, event: &Event) -> Result<bool, Mismatch> {
        Ok(match self {
            Node::Bool(op, lhs, rhs) => match op {
                BoolOp::And => lhs.eval(event)? && rhs.eval(event)?,
                BoolOp::Or => lhs.eval(event)? || rhs.eval(event)?,
                BoolOp::Nand => !(lhs.eval(event)? && rhs.eval(event)?),
                BoolOp::Xor => lhs.eval(event)? ^ rhs.eval(event)?,
            },
            Node::Not(inner) => !inner.eval(event)?,
            Node::Compare(op, lhs, rhs) => compare(*op, lhs.get(event), rhs.get(event))?,
            Node::Match {
                negated,
                lhs,
                regex,
            } => matches(regex, lhs.get(event)) != *negated,
            Node::In {
                negated,
                needle,
                haystack,
            } => contains(haystack.get(event), needle.get(event)) != *negated,
            Node::Truthy(operand) => operand.get(event).is_some_and(Value::is_truthy),
        })
    }
}

fn compare(op: CompareOp, lhs: Option<&Value>, rhs: Option<&Value>) -> Result<bool, Mismatch> {
    use std::cmp::Ordering::*;
    let ordering = match op {
        CompareOp::Eq => return Ok(values_equal(lhs.unwrap_or(&NULL), rhs.unwrap_or(&NULL))),
        CompareOp::Ne => return Ok(!values_equal(lhs.unwrap_or(&NULL), rhs.unwrap_or(&NULL))),
        _ => match (lhs, rhs) {
            (Some(l), Some(r)) => order(l, r)?,
            _ => return Ok(false),
        },
    };
    let Some(ordering) = ordering else {
        return Ok(false); // NaN
    };
    Ok(match op {
        CompareOp::Lt => ordering == Less,
        CompareOp::Gt => ordering == Greater,
        CompareOp::Le => ordering != Greater,
        CompareOp::Ge => ordering != Less,
        CompareOp::Eq | CompareOp::Ne => unreachable!("handled above"),
    })
}

/// Orders two values of comparable types; `None` for NaN.
fn order(l: &Value, r: &Value) -> Result<Option<std::cmp::Ordering>, Mismatch> {
    Ok(match (l, r) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Int(a), Value::Float(b)) => (*a as f64).partial_cmp(b),
        (Value::Float(a), Value::Int(b)) => a.partial_cmp(&(*b as f64)),
        (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
        (Value::Str(a), Value::Str(b)) => Some(a.as_str().cmp(b.as_str())),
        (Value::Timestamp(a), Value::Timestamp(b)) => Some(a.cmp(b)),
        _ => {
            return Err(Mismatch {
                left: l.type_name(),
                right: r.type_name(),
            })
        }
    })
}

/// Logstash equality: numbers by value across int and float, containers deeply, hashes
/// regardless of key order.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => int_eq_float(*x, *y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

fn int_eq_float(i: i64, f: f64) -> bool {
    // Exact: a float equals an integer only if it has no fraction and converts back losslessly.
    f.fract() == 0.0
        && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
        && f as i64 == i
}

/// `needle in haystack`.
fn contains(haystack: Option<&Value>, needle: Option<&Value>) -> bool {
    let (Some(haystack), Some(needle)) = (haystack, needle) else {
        return false;
    };
    match haystack {
        Value::Array(items) => items.iter().any(|item| values_equal(item, needle)),
        Value::Str(s) => with_text(needle, |n| s.contains(n)).unwrap_or(false),
        Value::Map(map) => needle.as_str().is_some_and(|k| map.contains_key(k)),
        _ => false,
    }
}

/// `value =~ regex`; a missing or non-scalar value does not match.
fn matches(regex: &Regex, value: Option<&Value>) -> bool {
    value
        .and_then(|v| with_text(v, |s| regex.is_match(s)))
        .unwrap_or(false)
}

/// Calls `f` with the text form of a scalar (numbers formatted on the stack); `None` for null,
/// arrays and hashes.
fn with_text<R>(value: &Value, f: impl FnOnce(&str) -> R) -> Option<R> {
    match value {
        Value::Str(s) => Some(f(s)),
        Value::Int(n) => Some(f(itoa::Buffer::new().format(*n))),
        Value::Float(x) => {
            let mut buf = StackStr::<64>::new();
            write_ruby_float(*x, &mut buf).ok()?;
            Some(f(buf.as_str()))
        }
        Value::Bool(b) => Some(f(if *b { "true" } else { "false" })),
        Value::Timestamp(t) => {
            let mut buf = StackStr::<64>::new();
            write!(buf, "{t}").ok()?;
            Some(f(buf.as_str()))
        }
        Value::Null | Value::Array(_) | Value::Map(_) => None,
    }
}

fn compile_expr(
    expr: &Spanned<ast::Expr>,
    env: &EnvLookup,
    errors: &mut Diagnostics,
) -> Option<Node> {
    match &expr.node {
        ast::Expr::Bool { op, lhs, rhs } => {
            // Compile both sides before giving up, so every error is reported.
            let l = compile_expr(lhs, env, errors);
            let r = compile_expr(rhs, env, errors);
            Some(Node::Bool(*op, Box::new(l?), Box::new(r?)))
        }
        ast::Expr::Not(inner) => Some(Node::Not(Box::new(compile_expr(inner, env, errors)?))),
        ast::Expr::Compare { op, lhs, rhs } => {
            let l = compile_operand(lhs, env, errors);
            let r = compile_operand(rhs, env, errors);
            Some(Node::Compare(*op, l?, r?))
        }
        ast::Expr::Match {
            negated,
            lhs,
            pattern,
        } => {
            let lhs = compile_operand(lhs, env, errors);
            let regex = compile_regex(pattern, env, errors);
            Some(Node::Match {
                negated: *negated,
                lhs: lhs?,
                regex: regex?,
            })
        }
        ast::Expr::In {
            negated,
            needle,
            haystack,
        } => {
            let needle = compile_operand(needle, env, errors);
            let haystack = compile_operand(haystack, env, errors);
            Some(Node::In {
                negated: *negated,
                needle: needle?,
                haystack: haystack?,
            })
        }
        ast::Expr::Value(operand) => Some(Node::Truthy(compile_operand(operand, env, errors)?)),
    }
}

fn compile_operand(
    rv: &Spanned<RValue>,
    env: &EnvLookup,
    errors: &mut Diagnostics,
) -> Option<Operand> {
    match &rv.node {
        RValue::Selector(s) => match FieldPath::parse(s) {
            Ok(path) => Some(Operand::Field(path)),
            Err(e) => {
                errors.push(Diagnostic::new(rv.span, e.to_string()));
                None
            }
        },
        _ => literal(rv, env, errors).map(Operand::Const),
    }
}

/// A literal operand as a value.
fn literal(rv: &Spanned<RValue>, env: &EnvLookup, errors: &mut Diagnostics) -> Option<Value> {
    match &rv.node {
        RValue::String(s) => match substitute_env(s, env) {
            Ok(s) => Some(Value::Str(Text::from_string(s))),
            Err(message) => {
                errors.push(Diagnostic::new(rv.span, message));
                None
            }
        },
        RValue::Number(Number::Int(n)) => Some(Value::Int(*n)),
        RValue::Number(Number::Float(f)) => Some(Value::Float(*f)),
        RValue::Array(items) => {
            let values: Vec<Option<Value>> =
                items.iter().map(|i| literal(i, env, errors)).collect();
            values
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .map(Value::Array)
        }
        RValue::Selector(_) => {
            errors.push(Diagnostic::new(
                rv.span,
                "field references are not allowed inside an array literal",
            ));
            None
        }
        RValue::Regex(_) => {
            errors.push(
                Diagnostic::new(rv.span, "a regex can only follow =~ or !~")
                    .with_help("compare with a string instead, or use =~"),
            );
            None
        }
    }
}

fn compile_regex(
    pattern: &Spanned<RValue>,
    env: &EnvLookup,
    errors: &mut Diagnostics,
) -> Option<Regex> {
    let source = match &pattern.node {
        RValue::Regex(re) => re.clone(),
        RValue::String(s) => match substitute_env(s, env) {
            Ok(s) => s,
            Err(message) => {
                errors.push(Diagnostic::new(pattern.span, message));
                return None;
            }
        },
        other => {
            errors.push(Diagnostic::new(
                pattern.span,
                format!(
                    "the right side of =~ and !~ must be a regex (/.../) or a string, not {}",
                    rvalue_kind(other)
                ),
            ));
            return None;
        }
    };
    match Regex::new(&source) {
        Ok(re) => Some(re),
        Err(e) => {
            errors.push(Diagnostic::new(
                pattern.span,
                format!("invalid regex: {}", regex_error_summary(&e)),
            ));
            None
        }
    }
}

fn rvalue_kind(rv: &RValue) -> &'static str {
    match rv {
        RValue::String(_) => "a string",
        RValue::Number(_) => "a number",
        RValue::Selector(_) => "a field reference",
        RValue::Array(_) => "an array",
        RValue::Regex(_) => "a regex",
    }
}

/// Writes `expr` back as LSCL text (for messages).
fn describe_expr(expr: &ast::Expr, out: &mut String) {
    match expr {
        ast::Expr::Bool { op, lhs, rhs } => {
            let op = op.as_str();
            out.push('(');
            describe_expr(&lhs.node, out);
            let _ = write!(out, " {op} ");
            describe_expr(&rhs.node, out);
            out.push(')');
        }
        ast::Expr::Not(inner) => {
            out.push_str("!(");
            describe_expr(&inner.node, out);
            out.push(')');
        }
        ast::Expr::Compare { op, lhs, rhs } => {
            let op = op.as_str();
            describe_rvalue(&lhs.node, out);
            let _ = write!(out, " {op} ");
            describe_rvalue(&rhs.node, out);
        }
        ast::Expr::Match {
            negated,
            lhs,
            pattern,
        } => {
            describe_rvalue(&lhs.node, out);
            out.push_str(if *negated { " !~ " } else { " =~ " });
            describe_rvalue(&pattern.node, out);
        }
        ast::Expr::In {
            negated,
            needle,
            haystack,
        } => {
            describe_rvalue(&needle.node, out);
            out.push_str(if *negated { " not in " } else { " in " });
            describe_rvalue(&haystack.node, out);
        }
        ast::Expr::Value(rv) => describe_rvalue(&rv.node, out),
    }
}

fn describe_rvalue(rv: &RValue, out: &mut String) {
    match rv {
        RValue::String(s) => {
            let _ = write!(out, "\"{s}\"");
        }
        RValue::Number(Number::Int(n)) => {
            let _ = write!(out, "{n}");
        }
        RValue::Number(Number::Float(f)) => {
            let _ = write!(out, "{f:?}");
        }
        RValue::Selector(s) => out.push_str(s),
        RValue::Regex(re) => {
            let _ = write!(out, "/{}/", re.replace('/', "\\/"));
        }
        RValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                describe_rvalue(&item.node, out);
            }
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Map, Timestamp};

    fn sp<T>(node: T) -> Spanned<T> {
        Spanned::new(node, Span::new(0, 1))
    }

    fn at<T>(node: T, start: usize, end: usize) -> Spanned<T> {
        Spanned::new(node, Span::new(start, end))
    }

    fn field(s: &str) -> Spanned<RValue> {
        sp(RValue::Selector(s.into()))
    }

    fn string(s: &str) -> Spanned<RValue> {
        sp(RValue::String(s.into()))
    }

    fn int(n: i64) -> Spanned<RValue> {
        sp(RValue::Number(Number::Int(n)))
    }

    fn float(f: f64) -> Spanned<RValue> {
        sp(RValue::Number(Number::Float(f)))
    }

    fn cmp(op: CompareOp, lhs: Spanned<RValue>, rhs: Spanned<RValue>) -> Spanned<ast::Expr> {
        sp(ast::Expr::Compare { op, lhs, rhs })
    }

    fn re_match(negated: bool, lhs: Spanned<RValue>, re: &str) -> Spanned<ast::Expr> {
        sp(ast::Expr::Match {
            negated,
            lhs,
            pattern: sp(RValue::Regex(re.into())),
        })
    }

    fn is_in(needle: Spanned<RValue>, haystack: Spanned<RValue>) -> Spanned<ast::Expr> {
        sp(ast::Expr::In {
            negated: false,
            needle,
            haystack,
        })
    }

    fn bool_op(op: BoolOp, lhs: Spanned<ast::Expr>, rhs: Spanned<ast::Expr>) -> Spanned<ast::Expr> {
        sp(ast::Expr::Bool {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        })
    }

    fn truthy(rv: Spanned<RValue>) -> Spanned<ast::Expr> {
        sp(ast::Expr::Value(rv))
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn compile(expr: Spanned<ast::Expr>) -> Condition {
        Condition::compile(&expr, &no_env).expect("compiles")
    }

    fn event() -> Event {
        let mut e = Event::from_message("GET /index.html 200".into(), Timestamp::from_secs(0));
        e.set_field("status".into(), Value::Int(200));
        e.set_field("code".into(), "200".into());
        e.set_field("ratio".into(), Value::Float(0.5));
        e.set_field(
            "tags".into(),
            Value::Array(vec!["web".into(), "prod".into()]),
        );
        let mut req = Map::new();
        req.insert("verb".into(), "GET".into());
        e.set_field("request".into(), Value::Map(req));
        e.insert(&FieldPath::parse("[@metadata][kind]").unwrap(), "x".into());
        e
    }

    #[test]
    fn equality_is_numeric_across_int_and_float_but_not_across_strings() {
        let e = event();
        assert!(compile(cmp(CompareOp::Eq, field("[status]"), int(200))).eval(&e));
        assert!(compile(cmp(CompareOp::Eq, field("[status]"), float(200.0))).eval(&e));
        assert!(!compile(cmp(CompareOp::Eq, field("[code]"), int(200))).eval(&e));
        assert!(compile(cmp(CompareOp::Ne, field("[code]"), int(200))).eval(&e));
        assert!(compile(cmp(CompareOp::Eq, field("[request][verb]"), string("GET"))).eval(&e));
    }

    #[test]
    fn missing_fields_equal_only_missing_fields() {
        let e = event();
        assert!(!compile(cmp(CompareOp::Eq, field("[nope]"), string("x"))).eval(&e));
        assert!(compile(cmp(CompareOp::Ne, field("[nope]"), string("x"))).eval(&e));
        assert!(compile(cmp(CompareOp::Eq, field("[nope]"), field("[nada]"))).eval(&e));
        assert!(!compile(cmp(CompareOp::Lt, field("[nope]"), int(3))).eval(&e));
    }

    #[test]
    fn ordering_numbers_and_strings() {
        let e = event();
        assert!(compile(cmp(CompareOp::Ge, field("[status]"), int(200))).eval(&e));
        assert!(!compile(cmp(CompareOp::Gt, field("[status]"), float(200.5))).eval(&e));
        assert!(compile(cmp(CompareOp::Lt, field("[ratio]"), int(1))).eval(&e));
        assert!(compile(cmp(CompareOp::Lt, field("[code]"), string("3"))).eval(&e));
        assert!(compile(cmp(CompareOp::Le, string("abc"), string("abc"))).eval(&e));
    }

    #[test]
    fn ordering_a_number_against_a_string_is_false_and_counted() {
        let e = event();
        let c = compile(cmp(CompareOp::Gt, field("[code]"), int(100)));
        assert!(!c.eval(&e));
        assert!(!c.eval(&e));
        assert_eq!(c.error_count(), 2);
        // The error makes the whole condition false, even under a negation.
        let negated = compile(sp(ast::Expr::Not(Box::new(cmp(
            CompareOp::Gt,
            field("[code]"),
            int(100),
        )))));
        assert!(!negated.eval(&e));
        assert_eq!(negated.error_count(), 1);
    }

    #[test]
    fn regex_matching() {
        let e = event();
        assert!(compile(re_match(false, field("message"), r"^GET /\w+")).eval(&e));
        assert!(!compile(re_match(true, field("message"), "index")).eval(&e));
        // Numbers match in their text form.
        assert!(compile(re_match(false, field("[status]"), "^2..$")).eval(&e));
        assert!(compile(re_match(false, field("[ratio]"), r"^0\.5$")).eval(&e));
        // Missing fields never match.
        assert!(!compile(re_match(false, field("[nope]"), ".*")).eval(&e));
        assert!(compile(re_match(true, field("[nope]"), ".*")).eval(&e));
        let with_string = sp(ast::Expr::Match {
            negated: false,
            lhs: field("message"),
            pattern: string("html"),
        });
        assert!(compile(with_string).eval(&e));
    }

    #[test]
    fn membership_and_substring() {
        let e = event();
        assert!(compile(is_in(string("web"), field("[tags]"))).eval(&e));
        assert!(!compile(is_in(string("dev"), field("[tags]"))).eval(&e));
        assert!(compile(is_in(string("index"), field("message"))).eval(&e));
        assert!(compile(is_in(int(20), field("message"))).eval(&e));
        let list = sp(RValue::Array(vec![string("GET"), string("POST")]));
        assert!(compile(is_in(field("[request][verb]"), list)).eval(&e));
        assert!(!compile(is_in(string("x"), field("[nope]"))).eval(&e));
        assert!(compile(is_in(string("verb"), field("[request]"))).eval(&e));
        let not_in = sp(ast::Expr::In {
            negated: true,
            needle: string("x"),
            haystack: field("[nope]"),
        });
        assert!(compile(not_in).eval(&e));
    }

    #[test]
    fn boolean_operators_and_truthiness() {
        let e = event();
        let t = || truthy(field("[status]"));
        let f = || truthy(field("[nope]"));
        assert!(compile(bool_op(BoolOp::And, t(), t())).eval(&e));
        assert!(!compile(bool_op(BoolOp::And, t(), f())).eval(&e));
        assert!(compile(bool_op(BoolOp::Or, f(), t())).eval(&e));
        assert!(compile(bool_op(BoolOp::Xor, f(), t())).eval(&e));
        assert!(!compile(bool_op(BoolOp::Xor, t(), t())).eval(&e));
        assert!(compile(bool_op(BoolOp::Nand, t(), f())).eval(&e));
        assert!(!compile(bool_op(BoolOp::Nand, t(), t())).eval(&e));
        assert!(compile(truthy(field("[@metadata][kind]"))).eval(&e));
        assert!(!compile(truthy(field("[kind]"))).eval(&e));
    }

    #[test]
    fn deep_equality_of_containers() {
        let a = Value::Array(vec![Value::Int(1), "x".into()]);
        let b = Value::Array(vec![Value::Float(1.0), "x".into()]);
        assert!(values_equal(&a, &b));
        let mut m1 = Map::new();
        m1.insert("a".into(), 1.into());
        m1.insert("b".into(), 2.into());
        let mut m2 = Map::new();
        m2.insert("b".into(), 2.into());
        m2.insert("a".into(), 1.into());
        assert!(values_equal(&Value::Map(m1), &Value::Map(m2)));
        assert!(!values_equal(&Value::Int(1), &Value::Float(1.5)));
    }

    #[test]
    fn env_vars_are_substituted_in_string_literals() {
        let env = |name: &str| (name == "LEVEL").then(|| "200".to_string());
        let c = Condition::compile(&cmp(CompareOp::Eq, field("code"), string("${LEVEL}")), &env)
            .unwrap();
        assert!(c.eval(&event()));
        let err = Condition::compile(
            &cmp(
                CompareOp::Eq,
                field("code"),
                at(RValue::String("${NOPE}".into()), 7, 14),
            ),
            &env,
        )
        .unwrap_err();
        assert_eq!(err.0[0].span, Span::new(7, 14));
    }

    #[test]
    fn bad_operands_are_reported_at_their_spans() {
        let expr = bool_op(
            BoolOp::And,
            cmp(
                CompareOp::Eq,
                at(RValue::Selector("[a".into()), 3, 5),
                int(1),
            ),
            sp(ast::Expr::Match {
                negated: false,
                lhs: field("x"),
                pattern: at(RValue::Regex("(unclosed".into()), 10, 21),
            }),
        );
        let err = Condition::compile(&expr, &no_env).unwrap_err();
        let spans: Vec<Span> = err.0.iter().map(|d| d.span).collect();
        assert_eq!(spans, [Span::new(3, 5), Span::new(10, 21)]);
        assert!(
            err.0[1].message.contains("invalid regex"),
            "{}",
            err.0[1].message
        );
    }

    #[test]
    fn describes_itself_for_warnings() {
        let c = compile(bool_op(
            BoolOp::Or,
            cmp(CompareOp::Eq, field("[a]"), string("x")),
            re_match(true, field("[b]"), "y/z"),
        ));
        assert_eq!(c.text(), r#"([a] == "x" or [b] !~ /y\/z/)"#);
    }
}
