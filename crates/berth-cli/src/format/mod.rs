//! Everything about presenting data: units, times, tables, templates, and the contexts that
//! list templates see.

pub mod containers;
pub mod images;
pub mod json;
pub mod list;
pub mod table;
pub mod template;
pub mod time;
pub mod units;
