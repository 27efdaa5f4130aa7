//! Runs a parsed template over a JSON value.

use serde_json::Value;

use super::parser::{Branch, Command, Node, Operand, OperandKind, Pipeline};
use super::value::{print_action, truthy, type_name};
use super::{MissingKey, TemplateError, funcs};

pub fn execute(
    src: &str,
    nodes: &[Node],
    data: &Value,
    missing: MissingKey,
) -> Result<String, TemplateError> {
    let mut exec = Exec {
        src,
        missing,
        vars: vec![("$".to_string(), data.clone())],
        out: String::new(),
    };
    exec.walk(data, nodes)?;
    Ok(exec.out)
}

struct Exec<'t> {
    src: &'t str,
    missing: MissingKey,
    /// Variables in scope, innermost last.
    vars: Vec<(String, Value)>,
    out: String,
}

/// What a list asks of the enclosing `range`.
enum Flow {
    Next,
    Break,
    Continue,
}

impl Exec<'_> {
    fn walk(&mut self, dot: &Value, nodes: &[Node]) -> Result<Flow, TemplateError> {
        for node in nodes {
            let flow = match node {
                Node::Text(text) => {
                    self.out.push_str(text);
                    Flow::Next
                }
                Node::Action(pipe) => {
                    let value = self.pipeline(dot, pipe)?;
                    if pipe.vars.is_empty() {
                        self.out.push_str(&print_action(&value));
                    }
                    Flow::Next
                }
                Node::If(branch) => self.conditional(dot, branch, false)?,
                Node::With(branch) => self.conditional(dot, branch, true)?,
                Node::Range(branch) => self.range(dot, branch)?,
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if !matches!(flow, Flow::Next) {
                return Ok(flow);
            }
        }
        Ok(Flow::Next)
    }

    /// `if` and `with`; `with` also moves dot to the pipeline's value.
    fn conditional(
        &mut self,
        dot: &Value,
        branch: &Branch,
        moves_dot: bool,
    ) -> Result<Flow, TemplateError> {
        let scope = self.vars.len();
        let value = self.pipeline(dot, &branch.pipe)?;
        let flow = if !truthy(&value) {
            self.walk(dot, &branch.otherwise)
        } else if moves_dot {
            self.walk(&value, &branch.body)
        } else {
            self.walk(dot, &branch.body)
        };
        self.vars.truncate(scope);
        flow
    }

    fn range(&mut self, dot: &Value, branch: &Branch) -> Result<Flow, TemplateError> {
        let scope = self.vars.len();
        let value = self.pipeline_value(dot, &branch.pipe)?;
        let items: Vec<(Value, Value)> = match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| (Value::from(i), item))
                .collect(),
            // Go ranges over a map in key order.
            Value::Object(map) => {
                let mut entries: Vec<(String, Value)> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                entries
                    .into_iter()
                    .map(|(k, v)| (Value::String(k), v))
                    .collect()
            }
            Value::Number(n) if n.as_u64().is_some() => (0..n.as_u64().unwrap_or(0))
                .map(|i| (Value::from(i), Value::from(i)))
                .collect(),
            Value::Null => Vec::new(),
            other => {
                let operand = &branch.pipe.commands[0].operands[0];
                return Err(self.error(
                    operand,
                    &format!("range can't iterate over {}", print_action(&other)),
                ));
            }
        };
        if items.is_empty() {
            let flow = self.walk(dot, &branch.otherwise);
            self.vars.truncate(scope);
            return flow;
        }
        for (key, item) in items {
            self.vars.truncate(scope);
            match branch.pipe.vars.as_slice() {
                [element] => self.vars.push((element.clone(), item.clone())),
                [index, element] => {
                    self.vars.push((index.clone(), key));
                    self.vars.push((element.clone(), item.clone()));
                }
                _ => {}
            }
            if let Flow::Break = self.walk(&item, &branch.body)? {
                break;
            }
        }
        self.vars.truncate(scope);
        Ok(Flow::Next)
    }

    /// Evaluates a pipeline and declares or assigns its variables.
    fn pipeline(&mut self, dot: &Value, pipe: &Pipeline) -> Result<Value, TemplateError> {
        let value = self.pipeline_value(dot, pipe)?;
        for name in &pipe.vars {
            if pipe.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    slot.1 = value.clone();
                }
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn pipeline_value(&mut self, dot: &Value, pipe: &Pipeline) -> Result<Value, TemplateError> {
        let mut piped = None;
        for command in &pipe.commands {
            piped = Some(self.command(dot, command, piped)?);
        }
        Ok(piped.unwrap_or(Value::Null))
    }

    fn command(
        &mut self,
        dot: &Value,
        command: &Command,
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        let Some((first, rest)) = command.operands.split_first() else {
            return Ok(Value::Null);
        };
        if let OperandKind::Function(name) = &first.kind {
            let last = command.operands.last().unwrap_or(first);
            return self.call(dot, name, (first.span.0, last.span.1), rest, piped);
        }
        if !rest.is_empty() || piped.is_some() {
            let text = self.text(first);
            return Err(self.error(
                first,
                &format!("can't give argument to non-function {text}"),
            ));
        }
        self.operand(dot, first)
    }

    fn call(
        &mut self,
        dot: &Value,
        name: &str,
        span: (usize, usize),
        args: &[Operand],
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        if name == "and" || name == "or" {
            // Lazy, as in Go: stop at the first argument that decides the result.
            let decides = name == "or";
            if args.is_empty() && piped.is_none() {
                return Err(self.span_error(
                    span,
                    &format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut result = Value::Null;
            for arg in args {
                result = self.operand(dot, arg)?;
                if truthy(&result) == decides {
                    return Ok(result);
                }
            }
            return Ok(piped.unwrap_or(result));
        }
        let mut values = Vec::with_capacity(args.len() + 1);
        for arg in args {
            values.push(self.operand(dot, arg)?);
        }
        values.extend(piped);
        funcs::call(name, &values).map_err(|message| self.span_error(span, &message))
    }

    fn operand(&mut self, dot: &Value, operand: &Operand) -> Result<Value, TemplateError> {
        match &operand.kind {
            OperandKind::Dot => Ok(dot.clone()),
            OperandKind::Literal(value) => Ok(value.clone()),
            OperandKind::Field(names) => self.fields(dot, names, operand),
            OperandKind::Variable(name, names) => {
                let value = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v)
                    .ok_or_else(|| self.error(operand, &format!("undefined variable: {name}")))?;
                self.fields(value, names, operand)
            }
            OperandKind::Function(name) => self.call(dot, name, operand.span, &[], None),
            OperandKind::Nested(pipe, names) => {
                let value = self.pipeline(dot, pipe)?;
                self.fields(&value, names, operand)
            }
        }
    }

    fn fields(
        &self,
        value: &Value,
        names: &[String],
        operand: &Operand,
    ) -> Result<Value, TemplateError> {
        let mut current = value;
        for name in names {
            match current {
                Value::Object(map) => match map.get(name) {
                    Some(next) => current = next,
                    None => {
                        return match self.missing {
                            MissingKey::Zero => Ok(Value::Null),
                            MissingKey::Empty => Ok(Value::String(String::new())),
                            MissingKey::Error => Err(self
                                .error(operand, &format!("map has no entry for key \"{name}\""))),
                        };
                    }
                },
                // A missing or nil receiver yields nothing rather than an error.
                Value::Null => return Ok(Value::Null),
                other => {
                    return Err(self.error(
                        operand,
                        &format!("can't evaluate field {name} in type {}", type_name(other)),
                    ));
                }
            }
        }
        Ok(current.clone())
    }

    fn text(&self, operand: &Operand) -> &str {
        &self.src[operand.span.0..operand.span.1]
    }

    fn error(&self, operand: &Operand, message: &str) -> TemplateError {
        self.span_error(operand.span, message)
    }

    fn span_error(&self, (start, end): (usize, usize), message: &str) -> TemplateError {
        TemplateError::exec(self.src, start, &self.src[start..end], message)
    }
}
