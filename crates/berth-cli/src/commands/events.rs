//! `events`: the daemon's events as they happen (from `--since`, until `--until` or an
//! interrupt), one line each in docker's layout or through a template.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use hyper::Method;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::Value;

use super::filter_map;
use crate::cli::EventsArgs;
use crate::client::Connector;
use crate::client::raw::{query, request};
use crate::error::{CliError, template_failure};
use crate::format::template::{MissingKey, Template};
use crate::format::time::api_time_filter;
use crate::output;

pub async fn run(connector: &Connector, args: EventsArgs) -> Result<(), CliError> {
    let json = args.format.as_deref() == Some("json");
    let template = match args.format.as_deref() {
        None => None,
        Some("json") => Some(Template::parse("{{json .}}")),
        Some(format) => Some(Template::parse(format)),
    }
    .transpose()
    .map_err(|e| CliError::BadFormat(format!("Error parsing format: {e}")))?;
    let now = Timestamp::now();
    let since = args
        .since
        .as_deref()
        .map(|v| api_time_filter(v, now))
        .transpose();
    let until = args
        .until
        .as_deref()
        .map(|v| api_time_filter(v, now))
        .transpose();
    let (since, until) = (
        since.map_err(CliError::Failed)?,
        until.map_err(CliError::Failed)?,
    );
    let filters = filter_map(&args.filter).map(|f| serde_json::to_string(&f).unwrap_or_default());
    let mut pairs = Vec::new();
    for (key, value) in [("since", &since), ("until", &until), ("filters", &filters)] {
        if let Some(value) = value {
            pairs.push((key, value.as_str()));
        }
    }
    let host = connector.host();
    connector.connect().await?;
    let path = format!("/events?{}", query(&pairs));
    let response = request(host, Method::GET, &path, None)
        .await
        .map_err(CliError::Failed)?;
    if response.status != 200 {
        return Err(CliError::Failed(response.error_message().await));
    }
    let mut body = Box::pin(response.into_stream());
    let mut buffer = Vec::new();
    while let Some(chunk) = body.next().await {
        buffer.extend_from_slice(&chunk?);
        let mut events = serde_json::Deserializer::from_slice(&buffer).into_iter::<Value>();
        let mut consumed = 0;
        while let Some(event) = events.next() {
            match event {
                Ok(event) => {
                    consumed = events.byte_offset();
                    output::line(&render(event, template.as_ref(), json)?);
                }
                // The rest of this event is still on its way.
                Err(error) if error.is_eof() => break,
                Err(error) => return Err(CliError::Failed(error.to_string())),
            }
        }
        buffer.drain(..consumed);
    }
    Ok(())
}

/// An event as docker's templates see it: decoded into docker's event type, so its fields
/// go by their Go names (`.Status`, `.TimeNano`), all of them there, empty when the daemon
/// left them out.
fn typed_view(event: Value) -> Value {
    let text = |key: &str| event[key].as_str().unwrap_or_default().to_string();
    let number = |key: &str| event[key].as_i64().unwrap_or_default();
    let attributes = match &event["Actor"]["Attributes"] {
        Value::Object(map) => Value::Object(map.clone()),
        _ => serde_json::json!({}),
    };
    serde_json::json!({
        "Status": text("status"),
        "ID": text("id"),
        "From": text("from"),
        "Type": text("Type"),
        "Action": text("Action"),
        "Actor": {
            "ID": event["Actor"]["ID"].as_str().unwrap_or_default(),
            "Attributes": attributes,
        },
        "Scope": text("scope"),
        "Time": number("time"),
        "TimeNano": number("timeNano"),
    })
}

/// An event as docker's `json` format prints it: docker's event type encoded again, so its
/// fields in that type's order, empty optional ones left out, attributes sorted by name.
fn json_view(event: &Value) -> Value {
    let mut out = serde_json::Map::new();
    let optional = |out: &mut serde_json::Map<String, Value>, key: &str| {
        let value = &event[key];
        let empty = value.is_null() || value == "" || value == 0;
        if !empty {
            out.insert(key.to_string(), value.clone());
        }
    };
    for key in ["status", "id", "from"] {
        optional(&mut out, key);
    }
    for key in ["Type", "Action"] {
        out.insert(
            key.to_string(),
            event[key].as_str().unwrap_or_default().into(),
        );
    }
    let attributes = match &event["Actor"]["Attributes"] {
        Value::Object(map) => {
            let mut pairs: Vec<(&String, &Value)> = map.iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        }
        _ => Value::Null,
    };
    out.insert(
        "Actor".to_string(),
        serde_json::json!({
            "ID": event["Actor"]["ID"].as_str().unwrap_or_default(),
            "Attributes": attributes,
        }),
    );
    for key in ["scope", "time", "timeNano"] {
        optional(&mut out, key);
    }
    Value::Object(out)
}

/// An event's line: docker's, or the template's (`json`: docker's encoding of the event;
/// other templates see docker's event type).
fn render(event: Value, template: Option<&Template>, json: bool) -> Result<String, CliError> {
    let Some(template) = template else {
        return Ok(line(&event, &TimeZone::system()));
    };
    let event = if json {
        json_view(&event)
    } else {
        typed_view(event)
    };
    template
        .execute(&event, MissingKey::Zero)
        .map_err(template_failure("template parsing error"))
}

/// Docker's line for an event: its time (nanoseconds, in `zone`), type, action, actor, and
/// the actor's attributes sorted by name.
fn line(event: &Value, zone: &TimeZone) -> String {
    let mut out = String::new();
    let nanos = event["timeNano"].as_i64().unwrap_or_default();
    let seconds = event["time"].as_i64().unwrap_or_default();
    let timestamp = if nanos != 0 {
        Timestamp::from_nanosecond(i128::from(nanos)).ok()
    } else if seconds != 0 {
        Timestamp::from_second(seconds).ok()
    } else {
        None
    };
    if let Some(timestamp) = timestamp {
        let zoned = timestamp.to_zoned(zone.clone());
        let offset = if zoned.offset().seconds() == 0 {
            "Z".to_string()
        } else {
            zoned.strftime("%:z").to_string()
        };
        out.push_str(&format!(
            "{}{offset} ",
            zoned.strftime("%Y-%m-%dT%H:%M:%S.%9f")
        ));
    }
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    let actor = &event["Actor"];
    out.push_str(&format!(
        "{} {} {}",
        text(&event["Type"]),
        text(&event["Action"]),
        text(&actor["ID"])
    ));
    let attributes: BTreeMap<&String, String> = actor["Attributes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| (key, text(value)))
        .collect();
    if !attributes.is_empty() {
        let pairs: Vec<String> = attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!(" ({})", pairs.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn default_lines_like_docker() {
        let event = json!({
            "status": "create", "id": "abc123", "from": "busybox",
            "Type": "container", "Action": "create",
            "Actor": {"ID": "abc123", "Attributes": {"name": "web", "image": "busybox"}},
            "scope": "local", "time": 1, "timeNano": 1_000_000_005,
        });
        assert_eq!(
            line(&event, &TimeZone::UTC),
            "1970-01-01T00:00:01.000000005Z container create abc123 (image=busybox, name=web)"
        );
        let plus_one = TimeZone::fixed(jiff::tz::offset(1));
        let seconds_only = json!({"Type": "network", "Action": "connect", "Actor": {"ID": "n1", "Attributes": {}}, "time": 2});
        assert_eq!(
            line(&seconds_only, &plus_one),
            "1970-01-01T01:00:02.000000000+01:00 network connect n1"
        );
    }

    #[test]
    fn templates_see_every_field() {
        let event =
            json!({"Type": "network", "Action": "create", "Actor": {"ID": "n"}, "timeNano": 5});
        let template =
            Template::parse("[{{.Status}}] {{.Actor.Attributes}} {{.Time}} {{.TimeNano}}").unwrap();
        assert_eq!(
            render(event, Some(&template), false).unwrap(),
            "[] map[] 0 5"
        );
    }

    #[test]
    fn templates_see_the_event_as_sent() {
        let event = json!({"Type": "volume", "Action": "create", "Actor": {"ID": "v", "Attributes": {"driver": "local"}}});
        let template = Template::parse("{{.Type}} {{.Actor.Attributes.driver}}").unwrap();
        assert_eq!(
            render(event.clone(), Some(&template), false).unwrap(),
            "volume local"
        );
        let json = Template::parse("{{json .}}").unwrap();
        assert_eq!(
            render(event, Some(&json), true).unwrap(),
            r#"{"Type":"volume","Action":"create","Actor":{"ID":"v","Attributes":{"driver":"local"}}}"#
        );
        // Docker's field order, whatever the daemon's; empty optional fields left out.
        let reordered = json!({
            "Type": "container", "Action": "start", "scope": "local", "time": 7, "timeNano": 0,
            "Actor": {"ID": "c", "Attributes": {"name": "web", "image": "bb"}},
            "status": "start", "id": "c", "from": "",
        });
        assert_eq!(
            render(reordered, Some(&json), true).unwrap(),
            r#"{"status":"start","id":"c","Type":"container","Action":"start","Actor":{"ID":"c","Attributes":{"image":"bb","name":"web"}},"scope":"local","time":7}"#
        );
    }
}
