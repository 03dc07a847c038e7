//! The one status type: the engine's error type and the wire status `E OO AA` (spec §4).
//! Maps kinds to class digits only; the HTTP mapping belongs to the HTTP adapter.

use std::fmt;

/// Longest `msg` a status message carries, in characters (spec §3).
pub const MAX_MSG_CHARS: usize = 256;

/// Why an op ended as it did. Each kind maps to exactly one error-class digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `0`: success, only ever as `00000`.
    Success,
    /// `1`: unparseable, not an object, missing/ill-typed/invalid field, unknown op.
    Invalid,
    /// `2`: a named record does not exist.
    NotFound,
    /// `2`: the record exists already (or is a built-in that cannot be replaced).
    Exists,
    /// `2`: other records still name this one, or it is a built-in.
    InUse,
    /// `2`: the record is in the wrong state for the op (e.g. running).
    WrongState,
    /// `3`: not authenticated or not permitted.
    Denied,
    /// `4`: a peer did not answer in time.
    Timeout,
    /// `5`: the request is too large.
    TooLarge,
    /// `5`: too many of something (rate or count limit).
    TooMany,
    /// `5`: a queue is full or the service is busy.
    Busy,
    /// `F`: a fault in the broker itself (e.g. the store failed).
    Internal,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::Success,
        Kind::Invalid,
        Kind::NotFound,
        Kind::Exists,
        Kind::InUse,
        Kind::WrongState,
        Kind::Denied,
        Kind::Timeout,
        Kind::TooLarge,
        Kind::TooMany,
        Kind::Busy,
        Kind::Internal,
    ];

    /// The error-class digit (`0`..`5`, `F`).
    pub fn class(self) -> char {
        match self {
            Kind::Success => '0',
            Kind::Invalid => '1',
            Kind::NotFound | Kind::Exists | Kind::InUse | Kind::WrongState => '2',
            Kind::Denied => '3',
            Kind::Timeout => '4',
            Kind::TooLarge | Kind::TooMany | Kind::Busy => '5',
            Kind::Internal => 'F',
        }
    }
}

macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The two-hex-digit code of this row of the spec §4 table.
            pub fn code(self) -> u8 {
                match self {
                    $($name::$variant => $code,)*
                }
            }

            /// The row with this code, if any.
            pub fn from_code(code: u8) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

coded_enum! {
    /// The `OO` part of a status code.
    Operation {
        /// `01`: none / the envelope.
        Envelope = 0x01,
        Register = 0x02,
        Deregister = 0x03,
        Query = 0x04,
        /// `05`: state change, including disconnect.
        StateChange = 0x05,
        Publish = 0x06,
        Subscribe = 0x07,
        Unsubscribe = 0x08,
        Notify = 0x09,
        Request = 0x0A,
        Response = 0x0B,
    }
}

coded_enum! {
    /// The `AA` part of a status code.
    Entity {
        None = 0x01,
        /// `02`: the JSON envelope.
        Envelope = 0x02,
        Node = 0x03,
        LocalNode = 0x04,
        NodeType = 0x05,
        Bearer = 0x06,
        BearerType = 0x07,
        Platform = 0x08,
        PlatformType = 0x09,
        /// `0A`: a system; runtime ops on services use it too.
        System = 0x0A,
        SystemType = 0x0B,
        ServiceType = 0x0C,
        User = 0x0D,
        UserType = 0x0E,
        Neighbours = 0x0F,
    }
}

/// The outcome of one op: its kind, what was attempted on what, and a short reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub kind: Kind,
    pub operation: Operation,
    pub entity: Entity,
    pub msg: String,
}

impl Status {
    /// A status with `msg` truncated to `MAX_MSG_CHARS` (256) characters.
    pub fn new(kind: Kind, operation: Operation, entity: Entity, msg: impl Into<String>) -> Status {
        Status {
            kind,
            operation,
            entity,
            msg: truncate_chars(msg.into(), MAX_MSG_CHARS),
        }
    }

    /// Success: code `00000`, msg `"OK"`.
    pub fn ok(operation: Operation, entity: Entity) -> Status {
        Status::new(Kind::Success, operation, entity, "OK")
    }

    pub fn invalid(operation: Operation, entity: Entity, msg: impl Into<String>) -> Status {
        Status::new(Kind::Invalid, operation, entity, msg)
    }

    /// The envelope failure `10102`.
    pub fn envelope(msg: impl Into<String>) -> Status {
        Status::new(Kind::Invalid, Operation::Envelope, Entity::Envelope, msg)
    }

    /// Five upper-case hex digits; `"00000"` for success whatever the operation and entity.
    pub fn code(&self) -> String {
        if self.kind == Kind::Success {
            return "00000".to_string();
        }
        format!(
            "{}{:02X}{:02X}",
            self.kind.class(),
            self.operation.code(),
            self.entity.code()
        )
    }

    pub fn is_ok(&self) -> bool {
        self.kind == Kind::Success
    }

    /// Splits a five-digit code into its class digit, operation and entity.
    pub fn parse_code(code: &str) -> Option<(char, Operation, Entity)> {
        if code.len() != 5 || !code.is_ascii() {
            return None;
        }
        let class = code.chars().next()?;
        if !matches!(class, '0'..='5' | 'F') {
            return None;
        }
        let operation = Operation::from_code(u8::from_str_radix(code.get(1..3)?, 16).ok()?)?;
        let entity = Entity::from_code(u8::from_str_radix(code.get(3..5)?, 16).ok()?)?;
        Some((class, operation, entity))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.msg)
    }
}

fn truncate_chars(mut text: String, max_chars: usize) -> String {
    if let Some((byte_index, _)) = text.char_indices().nth(max_chars) {
        text.truncate(byte_index);
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn every_code_is_well_formed_unique_and_round_trips() {
        let mut seen: HashMap<String, (char, Operation, Entity)> = HashMap::new();
        for &kind in Kind::ALL.iter().filter(|k| **k != Kind::Success) {
            for &operation in Operation::ALL {
                for &entity in Entity::ALL {
                    let code = Status::new(kind, operation, entity, "x").code();
                    assert_eq!(code.len(), 5, "{code}");
                    assert!(code
                        .chars()
                        .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)));
                    let parsed = Status::parse_code(&code).unwrap();
                    assert_eq!(parsed, (kind.class(), operation, entity));
                    if let Some(previous) = seen.insert(code.clone(), parsed) {
                        // Kinds sharing a class share codes; anything else is a collision.
                        assert_eq!(previous, parsed, "{code} collides");
                    }
                }
            }
        }
        let classes: std::collections::BTreeSet<char> =
            seen.values().map(|(class, _, _)| *class).collect();
        assert_eq!(classes.into_iter().collect::<String>(), "12345F");
        assert_eq!(
            seen.len(),
            6 * Operation::ALL.len() * Entity::ALL.len(),
            "one code per (class, operation, entity)"
        );
    }

    #[test]
    fn operation_and_entity_codes_are_distinct_and_parse_back() {
        for &operation in Operation::ALL {
            assert_eq!(Operation::from_code(operation.code()), Some(operation));
        }
        for &entity in Entity::ALL {
            assert_eq!(Entity::from_code(entity.code()), Some(entity));
        }
        assert_eq!(Operation::ALL.len(), 11);
        assert_eq!(Entity::ALL.len(), 15);
        assert_eq!(Operation::from_code(0x0C), None);
        assert_eq!(Entity::from_code(0x10), None);
    }

    #[test]
    fn success_is_always_00000() {
        let status = Status::ok(Operation::Register, Entity::Platform);
        assert_eq!(status.code(), "00000");
        assert_eq!(status.msg, "OK");
        assert!(status.is_ok());
    }

    #[test]
    fn spec_examples() {
        let cases = [
            (
                Kind::Invalid,
                Operation::Envelope,
                Entity::Envelope,
                "10102",
            ),
            (
                Kind::Invalid,
                Operation::Register,
                Entity::Platform,
                "10208",
            ),
            (
                Kind::NotFound,
                Operation::Register,
                Entity::Platform,
                "20208",
            ),
            (
                Kind::InUse,
                Operation::Deregister,
                Entity::Platform,
                "20308",
            ),
            (
                Kind::WrongState,
                Operation::StateChange,
                Entity::System,
                "2050A",
            ),
            (Kind::Denied, Operation::Publish, Entity::System, "3060A"),
            (Kind::Timeout, Operation::Request, Entity::System, "40A0A"),
            (
                Kind::TooLarge,
                Operation::Envelope,
                Entity::Envelope,
                "50102",
            ),
            (Kind::Internal, Operation::Register, Entity::System, "F020A"),
        ];
        for (kind, operation, entity, code) in cases {
            assert_eq!(Status::new(kind, operation, entity, "m").code(), code);
        }
    }

    #[test]
    fn parse_code_rejects_garbage() {
        for bad in [
            "", "0000", "000000", "60101", "10C01", "10110", "1010g", "ä0101",
        ] {
            assert_eq!(Status::parse_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn msg_is_truncated_on_a_char_boundary() {
        let long = "é".repeat(300);
        let status = Status::invalid(Operation::Register, Entity::Node, long);
        assert_eq!(status.msg.chars().count(), MAX_MSG_CHARS);
        let short = Status::invalid(Operation::Register, Entity::Node, "short");
        assert_eq!(short.msg, "short");
    }
}
