//! Columns from row types: a table's schema (column names, types, which may be missing) is read
//! from the row type's `Deserialize` implementation, its values from `Serialize`. The schema
//! comes from the type, not the values, so an empty table or a column with no value present
//! still gets its header and type.
//!
//! A row is a struct whose fields are `String`, `f64`, `u64`, `u32` or an `Option` of one of
//! them; anything else is reported as an error naming the field.

use std::fmt::Display;

use polars::prelude::Column;
use serde::de::{self, DeserializeOwned, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::{self, Impossible, Serialize};

/// The type of a column's values.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Text,
    Float,
    UInt64,
    /// Kept narrow where the reader expects it.
    UInt32,
}

/// One column of a row type.
#[derive(Clone, Debug)]
struct Field {
    name: &'static str,
    kind: Kind,
    optional: bool,
}

/// A row type that is not a struct of supported fields (a bug in the row type, not bad data).
#[derive(Debug)]
pub struct RowTypeError(String);

impl Display for RowTypeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RowTypeError {}

impl de::Error for RowTypeError {
    fn custom<T: Display>(msg: T) -> Self {
        RowTypeError(msg.to_string())
    }
}

impl ser::Error for RowTypeError {
    fn custom<T: Display>(msg: T) -> Self {
        RowTypeError(msg.to_string())
    }
}

/// The columns of `rows`, in the order of `T`'s fields.
pub(super) fn columns<'a, T: Serialize + DeserializeOwned + 'a>(
    rows: impl IntoIterator<Item = &'a T>,
) -> Result<Vec<Column>, RowTypeError> {
    let mut fields = Vec::new();
    T::deserialize(RowTracer {
        fields: &mut fields,
    })?;
    let mut values: Vec<Vec<Cell>> = vec![Vec::new(); fields.len()];
    for row in rows {
        row.serialize(RowWriter {
            fields: &fields,
            values: &mut values,
        })?;
    }
    fields
        .iter()
        .zip(values)
        .map(|(field, cells)| column(field, cells))
        .collect()
}

/// One value as serialised.
#[derive(Clone, Debug)]
enum Cell {
    Missing,
    Text(String),
    Float(f64),
    UInt(u64),
}

fn column(field: &Field, cells: Vec<Cell>) -> Result<Column, RowTypeError> {
    let name = field.name.into();
    let wrong = |cell: &Cell| {
        RowTypeError(format!(
            "field `{}`: value {cell:?} is not {:?}",
            field.name, field.kind
        ))
    };
    macro_rules! typed {
        ($pattern:pat => $value:expr) => {{
            let values = cells
                .iter()
                .map(|cell| match cell {
                    Cell::Missing if field.optional => Ok(None),
                    $pattern => Ok(Some($value)),
                    other => Err(wrong(other)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            // A column that cannot be missing is written as such (the Parquet schema says so).
            if field.optional {
                Column::new(name, values)
            } else {
                Column::new(name, values.into_iter().flatten().collect::<Vec<_>>())
            }
        }};
    }
    Ok(match field.kind {
        Kind::Text => typed!(Cell::Text(s) => s.clone()),
        Kind::Float => typed!(Cell::Float(x) => *x),
        Kind::UInt64 => typed!(Cell::UInt(x) => *x),
        Kind::UInt32 => typed!(Cell::UInt(x) => u32::try_from(*x).map_err(|_| {
            RowTypeError(format!("field `{}`: {x} does not fit a u32", field.name))
        })?),
    })
}

// ---------------------------------------------------------------- schema

/// Deserialises a row type without data, recording each field's name and type.
struct RowTracer<'a> {
    fields: &'a mut Vec<Field>,
}

impl<'de> de::Deserializer<'de> for RowTracer<'_> {
    type Error = RowTypeError;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        names: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, RowTypeError> {
        visitor.visit_seq(FieldTracer {
            names,
            fields: self.fields,
        })
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, RowTypeError> {
        Err(RowTypeError("a table row must be a struct".into()))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The fields of a row, in order.
struct FieldTracer<'a> {
    names: &'static [&'static str],
    fields: &'a mut Vec<Field>,
}

impl<'de> SeqAccess<'de> for FieldTracer<'_> {
    type Error = RowTypeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, RowTypeError> {
        let Some(name) = self.names.get(self.fields.len()).copied() else {
            return Ok(None);
        };
        let mut kind = None;
        let mut optional = false;
        let value = seed.deserialize(ValueTracer {
            name,
            kind: &mut kind,
            optional: &mut optional,
        })?;
        let kind = kind.ok_or_else(|| RowTypeError(format!("field `{name}`: no value type")))?;
        self.fields.push(Field {
            name,
            kind,
            optional,
        });
        Ok(Some(value))
    }
}

/// One field's type.
struct ValueTracer<'a> {
    name: &'static str,
    kind: &'a mut Option<Kind>,
    optional: &'a mut bool,
}

impl ValueTracer<'_> {
    fn found(self, kind: Kind) {
        *self.kind = Some(kind);
    }
}

impl<'de> de::Deserializer<'de> for ValueTracer<'_> {
    type Error = RowTypeError;

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowTypeError> {
        *self.optional = true;
        visitor.visit_some(self)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowTypeError> {
        self.found(Kind::Text);
        visitor.visit_string(String::new())
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowTypeError> {
        self.found(Kind::Float);
        visitor.visit_f64(0.0)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowTypeError> {
        self.found(Kind::UInt64);
        visitor.visit_u64(0)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowTypeError> {
        self.found(Kind::UInt32);
        visitor.visit_u32(0)
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, RowTypeError> {
        Err(RowTypeError(format!(
            "field `{}`: a column holds String, f64, u64 or u32 values",
            self.name
        )))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u128 f32 char str bytes byte_buf unit unit_struct
        newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

// ---------------------------------------------------------------- values

/// Serialises one row into the column buffers.
struct RowWriter<'a> {
    fields: &'a [Field],
    values: &'a mut [Vec<Cell>],
}

/// Everything but a struct is refused by a row.
fn not_a_row<T>() -> Result<T, RowTypeError> {
    Err(RowTypeError("a table row must be a struct".into()))
}

/// A field's value must be text, a number or missing.
fn not_a_cell<T>() -> Result<T, RowTypeError> {
    Err(RowTypeError(
        "a column holds String, f64, u64 or u32 values (or an Option of one)".into(),
    ))
}

/// Serializer methods that refuse their value with `$refusal()`.
macro_rules! refuse {
    ($refusal:ident: $($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<Self::Ok, RowTypeError> {
            $refusal()
        })*
    };
}

impl<'a> ser::Serializer for RowWriter<'a> {
    type Ok = ();
    type Error = RowTypeError;
    type SerializeSeq = Impossible<(), RowTypeError>;
    type SerializeTuple = Impossible<(), RowTypeError>;
    type SerializeTupleStruct = Impossible<(), RowTypeError>;
    type SerializeTupleVariant = Impossible<(), RowTypeError>;
    type SerializeMap = Impossible<(), RowTypeError>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), RowTypeError>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, RowTypeError> {
        Ok(self)
    }

    refuse! { not_a_row:
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_u8(u8), serialize_u16(u16), serialize_u32(u32),
        serialize_u64(u64), serialize_f32(f32), serialize_f64(f64), serialize_char(char),
        serialize_str(&str), serialize_bytes(&[u8]), serialize_none(), serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), RowTypeError> {
        not_a_row()
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), RowTypeError> {
        not_a_row()
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), RowTypeError> {
        not_a_row()
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, RowTypeError> {
        not_a_row()
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, RowTypeError> {
        not_a_row()
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, RowTypeError> {
        not_a_row()
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, RowTypeError> {
        not_a_row()
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, RowTypeError> {
        not_a_row()
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, RowTypeError> {
        not_a_row()
    }
}

impl ser::SerializeStruct for RowWriter<'_> {
    type Ok = ();
    type Error = RowTypeError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), RowTypeError> {
        let i = self
            .fields
            .iter()
            .position(|f| f.name == key)
            .ok_or_else(|| RowTypeError(format!("field `{key}` is not in the row's schema")))?;
        self.values[i].push(value.serialize(CellWriter)?);
        Ok(())
    }

    fn end(self) -> Result<(), RowTypeError> {
        Ok(())
    }
}

/// Serialises one field's value.
struct CellWriter;

impl ser::Serializer for CellWriter {
    type Ok = Cell;
    type Error = RowTypeError;
    type SerializeSeq = Impossible<Cell, RowTypeError>;
    type SerializeTuple = Impossible<Cell, RowTypeError>;
    type SerializeTupleStruct = Impossible<Cell, RowTypeError>;
    type SerializeTupleVariant = Impossible<Cell, RowTypeError>;
    type SerializeMap = Impossible<Cell, RowTypeError>;
    type SerializeStruct = Impossible<Cell, RowTypeError>;
    type SerializeStructVariant = Impossible<Cell, RowTypeError>;

    fn serialize_str(self, v: &str) -> Result<Cell, RowTypeError> {
        Ok(Cell::Text(v.to_string()))
    }

    fn serialize_f64(self, v: f64) -> Result<Cell, RowTypeError> {
        Ok(Cell::Float(v))
    }

    fn serialize_u64(self, v: u64) -> Result<Cell, RowTypeError> {
        Ok(Cell::UInt(v))
    }

    fn serialize_u32(self, v: u32) -> Result<Cell, RowTypeError> {
        Ok(Cell::UInt(v.into()))
    }

    fn serialize_none(self) -> Result<Cell, RowTypeError> {
        Ok(Cell::Missing)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Cell, RowTypeError> {
        value.serialize(self)
    }

    refuse! { not_a_cell:
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_u8(u8), serialize_u16(u16), serialize_f32(f32),
        serialize_char(char), serialize_bytes(&[u8]), serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Cell, RowTypeError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Cell, RowTypeError> {
        not_a_cell()
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, RowTypeError> {
        not_a_cell()
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, RowTypeError> {
        not_a_cell()
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, RowTypeError> {
        not_a_cell()
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, RowTypeError> {
        not_a_cell()
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, RowTypeError> {
        not_a_cell()
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, RowTypeError> {
        not_a_cell()
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, RowTypeError> {
        not_a_cell()
    }
}
