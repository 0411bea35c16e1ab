//! Static assertions on the auto traits of the public runtime types: handles
//! and runtimes move between threads and goroutines freely (Go's values of
//! these kinds are shared without ceremony).

use ferrogo::{Builder, Goroutine, JoinHandle, Runtime, RuntimeBuilder};

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_clone<T: Clone>() {}

#[test]
fn join_handle_is_send_and_sync() {
    assert_send::<JoinHandle<i32>>();
    assert_sync::<JoinHandle<i32>>();
    assert_send::<JoinHandle<String>>();
    assert_sync::<JoinHandle<Vec<u8>>>();
}

#[test]
fn runtime_is_send_and_sync() {
    assert_send::<Runtime>();
    assert_sync::<Runtime>();
    assert_send::<RuntimeBuilder>();
    assert_sync::<RuntimeBuilder>();
    assert_clone::<RuntimeBuilder>();
}

#[test]
fn builder_is_send_sync_clone() {
    assert_send::<Builder>();
    assert_sync::<Builder>();
    assert_clone::<Builder>();
}

#[test]
fn goroutine_identity_is_send_sync_clone() {
    assert_send::<Goroutine>();
    assert_sync::<Goroutine>();
    assert_clone::<Goroutine>();
}

#[test]
fn metrics_and_wait_reason_are_plain_values() {
    fn copy<T: Copy + Send + Sync + std::fmt::Debug + PartialEq>() {}
    copy::<ferrogo::debug::Metrics>();
    copy::<ferrogo::WaitReason>();
}
