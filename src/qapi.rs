//! QEMU's QAPI enums (`qapi/crypto.json`) as Rust enums.

/// Declares a QAPI enum: its variants with QEMU's values (the list order) and QAPI
/// names, and `ALL`, `from_index` (failing with the `error` message, `{}` being the
/// value), `name` and `from_name` (exact, as QEMU's `qapi_enum_parse`).
macro_rules! qapi_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident, error = $error:literal {
            $($(#[$vmeta:meta])* $variant:ident = $value:literal => $qapi:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value,)+
        }

        impl $name {
            /// Every value, in the order of QEMU's enum.
            pub const ALL: [$name; [$($value),+].len()] = [$($name::$variant),+];

            /// The value whose QEMU number is `value`.
            pub fn from_index(value: i64) -> $crate::Result<$name> {
                usize::try_from(value)
                    .ok()
                    .and_then(|i| Self::ALL.get(i).copied())
                    .ok_or_else(|| {
                        $crate::Error::new(
                            $crate::ErrorKind::InvalidArgument,
                            format!($error, value),
                        )
                    })
            }

            /// The QAPI name.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $qapi,)+
                }
            }

            /// The value whose QAPI name is `name`, matched exactly (case too), as
            /// QEMU's `qapi_enum_parse` matches it.
            pub fn from_name(name: &str) -> Option<$name> {
                Self::ALL.into_iter().find(|v| v.name() == name)
            }
        }
    };
}
pub(crate) use qapi_enum;

#[cfg(test)]
mod tests {
    qapi_enum! {
        /// A test enum.
        pub enum Fruit, error = "Unknown fruit {}" {
            Apple = 0 => "apple",
            BloodOrange = 1 => "blood-orange",
        }
    }

    #[test]
    fn values_names_and_errors() {
        assert_eq!(Fruit::ALL, [Fruit::Apple, Fruit::BloodOrange]);
        assert_eq!(Fruit::from_index(1), Ok(Fruit::BloodOrange));
        assert_eq!(
            Fruit::from_index(2).unwrap_err().message(),
            "Unknown fruit 2"
        );
        assert!(Fruit::from_index(-1).is_err());
        assert_eq!(Fruit::from_name("blood-orange"), Some(Fruit::BloodOrange));
        assert_eq!(Fruit::from_name("Blood-Orange"), None);
        assert_eq!(Fruit::BloodOrange.name(), "blood-orange");
        assert_eq!(Fruit::from_name("kiwi"), None);
    }
}
