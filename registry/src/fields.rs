//! Typed access to the members of a request object, turning every wrong type or rule break
//! into a class-1 status that names the field. No registry lookups here.

use serde_json::{Map, Value};

use crate::ident;
use crate::status::{Entity, Operation, Status};

/// The members of one request (or stored body), with the operation and entity used for errors.
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    operation: Operation,
    entity: Entity,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>, operation: Operation, entity: Entity) -> Fields<'a> {
        Fields {
            map,
            operation,
            entity,
        }
    }

    /// The members of a nested object, reporting errors like this one.
    pub fn nested<'b>(&self, map: &'b Map<String, Value>) -> Fields<'b> {
        Fields::new(map, self.operation, self.entity)
    }

    pub fn invalid(&self, msg: impl Into<String>) -> Status {
        Status::invalid(self.operation, self.entity, msg)
    }

    /// The member, with JSON `null` treated as absent.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|value| !value.is_null())
    }

    pub fn required(&self, name: &str) -> Result<&'a Value, Status> {
        self.get(name)
            .ok_or_else(|| self.invalid(format!("missing field {name}")))
    }

    pub fn required_str(&self, name: &str) -> Result<&'a str, Status> {
        let value = self.required(name)?;
        value
            .as_str()
            .ok_or_else(|| self.invalid(format!("field {name} must be a string")))
    }

    pub fn optional_str(&self, name: &str) -> Result<Option<&'a str>, Status> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(self.invalid(format!("field {name} must be a string"))),
        }
    }

    /// A required plain identifier (spec §1).
    pub fn plain_id(&self, name: &str) -> Result<String, Status> {
        let text = self.required_str(name)?;
        check_plain_field(self, name, text)?;
        Ok(text.to_string())
    }

    pub fn optional_plain_id(&self, name: &str) -> Result<Option<String>, Status> {
        match self.optional_str(name)? {
            None => Ok(None),
            Some(text) => {
                check_plain_field(self, name, text)?;
                Ok(Some(text.to_string()))
            }
        }
    }

    pub fn optional_object(&self, name: &str) -> Result<Option<Map<String, Value>>, Status> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(object)) => Ok(Some(object.clone())),
            Some(_) => Err(self.invalid(format!("field {name} must be an object"))),
        }
    }

    pub fn optional_array(&self, name: &str) -> Result<Option<&'a Vec<Value>>, Status> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(self.invalid(format!("field {name} must be an array"))),
        }
    }

    /// A required number member of an object named `context` (e.g. `loc.lat`).
    pub fn number_in(
        &self,
        object: &Map<String, Value>,
        context: &str,
        name: &str,
    ) -> Result<Option<serde_json::Number>, Status> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => Ok(Some(number.clone())),
            Some(_) => Err(self.invalid(format!("field {context}.{name} must be a number"))),
        }
    }
}

fn check_plain_field(fields: &Fields<'_>, name: &str, text: &str) -> Result<(), Status> {
    ident::check_plain(text).map_err(|reason| fields.invalid(format!("field {name} {reason}")))
}
