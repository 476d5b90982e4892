//! The ABI test: prints "PASSED n tests" when every size, alignment, field offset
//! and constant of zcio.h matches src/capi/types.rs.
#![allow(bad_style, clippy::all)]

use zcio::capi::types::*;

include!(concat!(env!("OUT_DIR"), "/zcio_abi.rs"));
