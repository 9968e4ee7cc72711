//! Faults the service must survive with nothing lost, doubled or
//! half-written, one file per fault, with real processes: Redis masters
//! killed and replicas promoted, the service SIGKILLed at several points
//! (during a fetch, a cleanup, a migration and a rollback),
//! PostgreSQL restarted under two instances, a TCP proxy that drops and
//! stalls connections, a full reports disk.

mod failover;
mod full_disk;
mod postgres_restart;
mod proxy;
mod rollback_kill;
mod service_kill;
mod stalls;
mod watch;
