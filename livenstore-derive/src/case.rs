//! `UpperCamelCase` to `snake_case`, for handler names (`UserCreated` → `on_user_created`).

/// Converts a type name to snake case.
///
/// A word starts at an uppercase letter that follows a lowercase letter or a digit
/// (`Order2Placed` → `order2_placed`), and at the last capital of an acronym that is followed by a
/// lowercase letter (`HTTPRequestSent` → `http_request_sent`). Digits stay with the word before
/// them; existing underscores are kept and never doubled.
pub fn to_snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let starts_word = prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next_is_lower);
            if starts_word && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::to_snake_case;

    #[test]
    fn plain_words() {
        assert_eq!(to_snake_case("UserCreated"), "user_created");
        assert_eq!(to_snake_case("Deposited"), "deposited");
        assert_eq!(to_snake_case("A"), "a");
        assert_eq!(to_snake_case("already_snake"), "already_snake");
    }

    #[test]
    fn acronyms() {
        assert_eq!(to_snake_case("HTTPRequestSent"), "http_request_sent");
        assert_eq!(to_snake_case("ABC"), "abc");
        assert_eq!(to_snake_case("UserIDChanged"), "user_id_changed");
        assert_eq!(to_snake_case("SentToAPI"), "sent_to_api");
        assert_eq!(to_snake_case("IOError"), "io_error");
    }

    #[test]
    fn digits() {
        assert_eq!(to_snake_case("Order2Placed"), "order2_placed");
        assert_eq!(to_snake_case("IOError2X"), "io_error2_x");
        assert_eq!(to_snake_case("HTTP2Request"), "http2_request");
        assert_eq!(to_snake_case("V2"), "v2");
        assert_eq!(to_snake_case("Sha256Computed"), "sha256_computed");
    }

    #[test]
    fn underscores_are_not_doubled() {
        assert_eq!(to_snake_case("User_Created"), "user_created");
        assert_eq!(to_snake_case("HTTP_Request"), "http_request");
    }

    #[test]
    fn non_ascii() {
        assert_eq!(to_snake_case("ÉtéCommencé"), "été_commencé");
    }
}
