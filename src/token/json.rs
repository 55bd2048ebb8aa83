//! JSON shapes serde's derive does not enforce on its own.

use serde::Serialize;

/// A `T` read only from a JSON object. serde's derived structs also take an
/// array of the field values in order (`["a@example.com"]`), which slips past
/// `deny_unknown_fields`: request bodies and feed entries are objects.
/// Written back, it is `T` itself.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Object<T>(pub T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
                // Read the array through first, so one that is malformed or
                // nested past the recursion limit is a syntax error (400) as
                // anywhere else; a well-formed one is of the wrong type (422).
                while seq.next_element::<serde_json::Value>()?.is_some() {}
                Err(serde::de::Error::invalid_type(
                    serde::de::Unexpected::Seq,
                    &self,
                ))
            }
        }

        deserializer
            .deserialize_any(Visitor(std::marker::PhantomData))
            .map(Object)
    }
}
