//! Everything about presenting data: units, times, tables, templates, and the contexts that
//! list templates see.

pub mod containers;
pub mod disk_usage;
pub mod images;
pub mod json;
pub mod list;
pub mod natural;
pub mod objects;
pub mod stats;
pub mod table;
pub mod template;
pub mod time;
pub mod units;
