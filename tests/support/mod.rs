#![allow(dead_code)]
pub mod bench;
pub mod bench_fairness;
pub mod bench_identity;
pub mod bench_replicas;
pub mod bot;
pub mod budget_sim;
pub mod discord;
pub mod fake_providers;
pub mod pg;
pub mod secrets;
pub mod spec;
pub mod world;
