//! Where a request's events come from: the engine's `RequestStream`, or a scripted source in
//! tests. Dropping a source aborts its request.

use std::future::Future;

use engine::{Event, RequestStream};

pub trait EventSource: Send {
    /// The next event; `None` when the request is over.
    fn next_event(&mut self) -> impl Future<Output = Option<Event>> + Send;
}

impl EventSource for RequestStream {
    fn next_event(&mut self) -> impl Future<Output = Option<Event>> + Send {
        self.recv()
    }
}
