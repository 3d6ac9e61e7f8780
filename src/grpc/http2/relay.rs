//! Calls that are not checks (health, reflection), relayed to tonic's services on the
//! connection's own task, bounded like checks.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use h2::RecvStream;
use h2::server::SendResponse;
use http::{Request, Response};
use http_body::{Body as _, Frame};
use tokio::sync::watch;
use tonic::codegen::Service as _;

use super::send_within_window;
use super::state::Backlog;

/// Serves a call that is not a check (health, reflection) with tonic, until it ends or the
/// port stops (a health `Watch` never ends by itself; it is reset then).
pub(super) async fn relay(
    routes: tonic::service::Routes,
    request: Request<RecvStream>,
    respond: SendResponse<Bytes>,
    mut stop: watch::Receiver<bool>,
    _turn: tokio::sync::OwnedSemaphorePermit,
    backlog: Arc<Backlog>,
) {
    tokio::select! {
        () = relay_call(routes, request, respond, &backlog) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

pub(super) async fn relay_call(
    mut routes: tonic::service::Routes,
    request: Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    backlog: &Backlog,
) {
    let (parts, recv) = request.into_parts();
    let body = tonic::body::Body::new(RecvBody {
        recv,
        data_done: false,
    });
    let _ = poll_fn(|cx| {
        tonic::codegen::Service::<Request<tonic::body::Body>>::poll_ready(&mut routes, cx)
    })
    .await;
    // The call ends when the client resets its stream or the connection is lost: a health
    // `Watch` waits for a status change that may never come, and nothing else would end it.
    let mut call = pin!(routes.call(Request::from_parts(parts, body)));
    let response = poll_fn(|cx| {
        if let Poll::Ready(Ok(response)) = call.as_mut().poll(cx) {
            return Poll::Ready(Some(response));
        }
        respond.poll_reset(cx).map(|_| None)
    })
    .await;
    let Some(response) = response else {
        return;
    };
    let (parts, mut body) = response.into_parts();
    let end = body.is_end_stream();
    let Ok(mut send) = respond.send_response(Response::from_parts(parts, ()), end) else {
        return;
    };
    if end {
        return;
    }
    loop {
        let frame = poll_fn(|cx| {
            if let Poll::Ready(frame) = Pin::new(&mut body).poll_frame(cx) {
                return Poll::Ready(Some(frame));
            }
            send.poll_reset(cx).map(|_| None)
        })
        .await;
        // Reset by the client, or the connection lost.
        let Some(frame) = frame else {
            return;
        };
        // The end of the body.
        let Some(frame) = frame else {
            break;
        };
        let Ok(frame) = frame else {
            send.send_reset(h2::Reason::INTERNAL_ERROR);
            return;
        };
        match frame.into_data() {
            Ok(data) => {
                // Within the client's flow-control window, a window at a time.
                if !send_within_window(&mut send, data, backlog).await {
                    return;
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    let _ = send.send_trailers(trailers);
                }
                return;
            }
        }
    }
    let _ = send.send_data(Bytes::new(), true);
}

/// A request stream as an HTTP body, its window given back as it is read.
pub(super) struct RecvBody {
    pub(super) recv: RecvStream,
    pub(super) data_done: bool,
}

impl http_body::Body for RecvBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if !self.data_done {
            match ready!(self.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => self.data_done = true,
            }
        }
        match ready!(self.recv.poll_trailers(cx)) {
            Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }
}
