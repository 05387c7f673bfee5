//! C enum arguments. C may pass any `int` where a header says `QCryptoHashAlgo`, so an
//! export takes an `*Arg` wrapper (cbindgen prints it as the C enum) and decodes it
//! one way, [`EnumArg`]; [`enum_arg!`] declares each wrapper.

use crate::boundary::Fail;

/// A C enum argument and the Rust enum it stands for.
pub(crate) trait EnumArg: Copy {
    type Rust: Copy;

    /// The Rust value, or `None` for a value outside the enum.
    fn decode(self) -> Option<Self::Rust>;

    /// The Rust value, or the failure an unknown value is: a runtime error for QAPI
    /// enums (QEMU reports those through its `Error **`), a critical naming `param` for
    /// the others (a programming error, as QEMU's assertions treat them).
    fn get(self, param: &str) -> Result<Self::Rust, Fail>;
}

/// Declares a C enum argument type:
/// `enum_arg!(HashAlgoArg => HashAlgo, qapi)` for a QAPI enum whose core type has
/// QEMU's values and `from_index` (an unknown value is its GError), or
/// `enum_arg!(ShutdownArg(QIOChannelShutdown) => Shutdown { QIO_CHANNEL_SHUTDOWN_READ =>
/// Shutdown::Read, ... })` mapping each C value (an unknown value is a critical).
macro_rules! enum_arg {
    ($(#[$meta:meta])* $arg:ident => $rust:ty, qapi) => {
        $(#[$meta])*
        #[repr(transparent)]
        #[derive(Clone, Copy)]
        pub struct $arg(::std::os::raw::c_int);

        impl $crate::ffi::EnumArg for $arg {
            type Rust = $rust;

            fn decode(self) -> Option<$rust> {
                <$rust>::from_index(self.0.into()).ok()
            }

            fn get(self, _: &str) -> Result<$rust, $crate::boundary::Fail> {
                Ok(<$rust>::from_index(self.0.into())?)
            }
        }

        /// What exports returning the enum hand back.
        impl From<$rust> for $arg {
            fn from(value: $rust) -> $arg {
                $arg(value as ::std::os::raw::c_int)
            }
        }
    };
    ($(#[$meta:meta])* $arg:ident($c_enum:ident) => $rust:ty { $($c:ident => $value:expr),+ $(,)? }) => {
        $(#[$meta])*
        #[repr(transparent)]
        #[derive(Clone, Copy)]
        pub struct $arg(::std::os::raw::c_int);

        impl $crate::ffi::EnumArg for $arg {
            type Rust = $rust;

            fn decode(self) -> Option<$rust> {
                $(if self.0 == $c_enum::$c as ::std::os::raw::c_int {
                    return Some($value);
                })+
                None
            }

            fn get(self, param: &str) -> Result<$rust, $crate::boundary::Fail> {
                self.decode().ok_or_else(|| {
                    $crate::boundary::Fail::Precondition(
                        format!("{param} is a {}", stringify!($c_enum)).into(),
                    )
                })
            }
        }
    };
}
pub(crate) use enum_arg;

/// Decodes a C enum argument with [`EnumArg::get`], naming the parameter.
macro_rules! decode {
    ($arg:ident) => {
        $crate::ffi::EnumArg::get($arg, stringify!($arg))?
    };
}
pub(crate) use decode;

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C)]
    #[allow(non_camel_case_types, dead_code)]
    pub enum Colour {
        COLOUR_RED = 2,
        COLOUR_BLUE = 5,
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    pub enum Rgb {
        R,
        B,
    }

    enum_arg!(ColourArg(Colour) => Rgb { COLOUR_RED => Rgb::R, COLOUR_BLUE => Rgb::B });
    enum_arg!(AlgoArg => qio::crypto::HashAlgo, qapi);

    #[test]
    fn mapped_values_decode_and_others_are_criticals() {
        assert_eq!(ColourArg(5).get("c").ok(), Some(Rgb::B));
        assert_eq!(ColourArg(2).decode(), Some(Rgb::R));
        assert_eq!(ColourArg(0).decode(), None);
        match ColourArg(3).get("colour") {
            Err(Fail::Precondition(text)) => assert_eq!(text, "colour is a Colour"),
            _ => panic!("expected a precondition failure"),
        }
    }

    #[test]
    fn qapi_values_decode_and_others_are_errors() {
        assert_eq!(
            AlgoArg(3).get("alg").ok(),
            Some(qio::crypto::HashAlgo::Sha256)
        );
        assert_eq!(AlgoArg(-1).decode(), None);
        match AlgoArg(8).get("alg") {
            Err(Fail::Error(e)) => assert_eq!(e.message(), "Unknown hash algorithm 8"),
            _ => panic!("expected an error"),
        }
        assert_eq!(AlgoArg::from(qio::crypto::HashAlgo::Md5).0, 0);
    }
}
