//! stub
use super::Ctx;
use crate::report::Row;
/// Runs the case.
pub fn run(_ctx: &Ctx) -> Row { todo!() }
