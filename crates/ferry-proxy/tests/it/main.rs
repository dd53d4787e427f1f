//! Integration tests of the proxy: real backends (small hyper servers on 127.0.0.1 port 0),
//! a real proxy, real clients (hyper's, over HTTP/1.1 and HTTP/2, and raw sockets).

mod drain;
mod errors;
mod headers;
mod metrics;
mod protocols;
mod routing;
mod support;
mod tls;
