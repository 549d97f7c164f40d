//! TOML and serde messages without the values they quote.
//!
//! serde names the value it did not expect, and the value may be a secret:
//!
//! ```text
//! token = "s3cret"      invalid type: string "s3cret", expected a sequence
//! secret = 123456789    invalid type: integer `123456789`, expected a string
//! secret = 0xDEAD       invalid type: integer `57005`, expected a string
//!                   →   invalid type: string, expected a sequence
//!                       invalid type: integer, expected a string
//! ```
//!
//! Only the value is cut: its kind and what was expected stay, and so do
//! key names (`unknown field `publsh``), which say where a typo is.

/// The prefixes of serde's messages that quote the value they name.
const QUOTING: [&str; 2] = ["invalid type: ", "invalid value: "];

/// `message` with the quoted value of an `invalid type`/`invalid value`
/// message cut out; any other message as it is.
pub fn without_values(message: &str) -> String {
    let Some((start, prefix)) = QUOTING
        .iter()
        .find_map(|p| message.find(p).map(|at| (at, *p)))
    else {
        return message.to_string();
    };
    let after = start + prefix.len();
    // What was expected is the deserializer's own text; the value comes
    // before it, and may itself hold ", expected": the last one counts.
    let end = message[after..]
        .rfind(", expected ")
        .map_or(message.len(), |at| after + at);
    let unexpected = &message[after..end];
    // `string "…"`, `integer `…``, `floating point `…``, `boolean `…``,
    // `character `…``; kinds without a value (`sequence`, `map`) have no quote.
    let kind = match unexpected.find(['"', '`']) {
        Some(quote) => unexpected[..quote].trim_end(),
        None => unexpected,
    };
    format!("{}{kind}{}", &message[..after], &message[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_goes_its_kind_stays() {
        let cases = [
            (
                "invalid type: string \"s3cret\", expected a sequence",
                "invalid type: string, expected a sequence",
            ),
            (
                "invalid type: integer `123456789`, expected a string",
                "invalid type: integer, expected a string",
            ),
            (
                "invalid type: string \"a, expected b\", expected a sequence",
                "invalid type: string, expected a sequence",
            ),
            ("invalid value: string \"s3cret\"", "invalid value: string"),
            (
                "invalid type: sequence, expected a string",
                "invalid type: sequence, expected a string",
            ),
            (
                "unknown field `publsh`, expected one of `secret`, `publish`",
                "unknown field `publsh`, expected one of `secret`, `publish`",
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(without_values(message), expected, "{message}");
        }
    }
}
