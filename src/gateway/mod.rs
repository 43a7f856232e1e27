//! The gateway's whole life around serenity's shards: a relay that paces
//! IDENTIFYs across replicas and session starts (`identify.rs`), sees every
//! close and reconnect request (`relay.rs`), and reports them to the
//! operator (`report.rs`) by what Discord's close codes mean (`closes.rs`).

pub mod closes;
pub mod identify;
pub mod relay;
pub mod report;
