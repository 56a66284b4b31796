//! The shape description of an event type (`DomainEvent::SHAPE`), written from its tokens.
//!
//! The description is canonical: tokens are printed with a space only between two words
//! (identifiers and literals), so formatting, comments and doc comments do not change it, while
//! any change to the kind, a field's name or type, a variant, or a `#[serde(...)]` attribute
//! does. Named fields are listed sorted by name (reordering them changes no JSON); tuple fields
//! and variants in order. Examples: `struct{amount:u64}`, `struct(u64,String)`, `struct`,
//! `#[serde(rename_all="camelCase")]enum{Opened{owner:String},Closed}`.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{Attribute, Data, DeriveInput, Fields};

/// The description of the type's shape.
pub fn describe(input: &DeriveInput) -> String {
    let mut out = String::new();
    serde_attrs(&mut out, &input.attrs);
    match &input.data {
        Data::Struct(data) => {
            out.push_str("struct");
            fields(&mut out, &data.fields);
        }
        Data::Enum(data) => {
            out.push_str("enum{");
            for (i, variant) in data.variants.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                serde_attrs(&mut out, &variant.attrs);
                out.push_str(&variant.ident.unraw().to_string());
                fields(&mut out, &variant.fields);
            }
            out.push('}');
        }
        // Refused by `valid.rs` before this is called.
        Data::Union(_) => out.push_str("union"),
    }
    out
}

/// `{name:type,...}` (sorted by name: JSON objects do not keep their keys' order, so
/// reordering fields is no change), `(type,...)` (in order) or nothing, each field after its
/// serde attributes.
fn fields(out: &mut String, fields: &Fields) {
    let mut described: Vec<(String, String)> = fields
        .iter()
        .map(|field| {
            let name = field
                .ident
                .as_ref()
                .map(|name| name.unraw().to_string())
                .unwrap_or_default();
            let mut one = String::new();
            serde_attrs(&mut one, &field.attrs);
            if field.ident.is_some() {
                one.push_str(&name);
                one.push(':');
            }
            canonical(&mut one, field.ty.to_token_stream());
            (name, one)
        })
        .collect();
    let (open, close) = match fields {
        Fields::Named(_) => {
            described.sort();
            ('{', '}')
        }
        Fields::Unnamed(_) => ('(', ')'),
        Fields::Unit => return,
    };
    out.push(open);
    for (i, (_, one)) in described.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(one);
    }
    out.push(close);
}

/// Every `#[serde(...)]` attribute, as `#[serde(...)]` in canonical form.
fn serde_attrs(out: &mut String, attrs: &[Attribute]) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        out.push_str("#[");
        canonical(out, attr.meta.to_token_stream());
        out.push(']');
    }
}

/// The tokens, with a space only between two words.
fn canonical(out: &mut String, tokens: TokenStream) {
    let mut after_word = false;
    for token in tokens {
        match token {
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::None => ("", ""),
                };
                out.push_str(open);
                canonical(out, group.stream());
                out.push_str(close);
                after_word = false;
            }
            TokenTree::Ident(ident) => {
                if after_word {
                    out.push(' ');
                }
                out.push_str(&ident.to_string());
                after_word = true;
            }
            TokenTree::Literal(literal) => {
                if after_word {
                    out.push(' ');
                }
                out.push_str(&literal.to_string());
                after_word = true;
            }
            TokenTree::Punct(punct) => {
                out.push(punct.as_char());
                after_word = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(source: &str) -> String {
        describe(&syn::parse_str(source).unwrap())
    }

    #[test]
    fn kinds_fields_and_variants() {
        assert_eq!(shape("struct A { amount: u64 }"), "struct{amount:u64}");
        assert_eq!(shape("struct A(u64, String);"), "struct(u64,String)");
        assert_eq!(shape("struct A;"), "struct");
        assert_eq!(
            shape("enum E { Opened { owner: String }, Moved(u8), Closed }"),
            "enum{Opened{owner:String},Moved(u8),Closed}"
        );
        assert_eq!(
            shape("struct A { r#type: Option<Vec<&'static str>>, m: std::collections::BTreeMap<String, u8> }"),
            "struct{m:std::collections::BTreeMap<String,u8>,type:Option<Vec<&'static str>>}"
        );
    }

    #[test]
    fn serde_attributes_count_and_docs_do_not() {
        assert_eq!(
            shape(
                "/// Docs.\n#[serde(rename_all = \"camelCase\")] #[derive(Debug)] struct A { \
                 /// More docs.\n #[serde(default, rename = \"a b\")] amount: u64 }"
            ),
            "#[serde(rename_all=\"camelCase\")]struct{#[serde(default,rename=\"a b\")]amount:u64}"
        );
        assert_eq!(
            shape("enum E { #[serde(rename = \"x\")] X }"),
            "enum{#[serde(rename=\"x\")]X}"
        );
    }

    #[test]
    fn named_fields_are_sorted_and_tuple_fields_are_not() {
        assert_eq!(shape("struct A { b: u8, a: u16 }"), "struct{a:u16,b:u8}");
        assert_eq!(
            shape("struct A { b: u8, a: u16 }"),
            shape("struct A { a: u16, b: u8 }")
        );
        assert_ne!(shape("struct A(u8, u16);"), shape("struct A(u16, u8);"));
        assert_eq!(
            shape("struct A { #[serde(default)] z: u8, y: u8 }"),
            "struct{y:u8,#[serde(default)]z:u8}"
        );
    }

    #[test]
    fn formatting_does_not_change_the_shape() {
        assert_eq!(
            shape("struct A {\n    amount :   Vec < u8 > ,\n}"),
            shape("struct A{amount:Vec<u8>}")
        );
    }
}
