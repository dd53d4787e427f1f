//! One browser tab and what tests do with it: navigate, evaluate JavaScript, wait for a
//! condition, click, type, read text, take screenshots and set auth headers or cookies.
//!
//! Clicks and typing go through `Input.*` as a user's would (the mouse at the element's
//! centre, text inserted into the focused element), so an overlay that hides a button makes
//! its test fail as it would fail the user.

use std::marker::PhantomData;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::cdp::{Connection, Event};
use super::{Browser, ChromiumError, POLL_INTERVAL};

/// How long [`Page::goto`] waits for the load event.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of the page's text a [`ChromiumError::WaitTimeout`] quotes.
const TEXT_EXCERPT_CHARS: usize = 500;

/// A tab of a [`Browser`], which it cannot outlive.
#[derive(Debug)]
pub struct Page<'browser> {
    connection: Connection,
    _browser: PhantomData<&'browser Browser>,
}

impl<'browser> Page<'browser> {
    pub(super) fn attach(mut connection: Connection) -> Result<Page<'browser>, ChromiumError> {
        for domain in ["Page", "Runtime", "Network"] {
            connection.call(&format!("{domain}.enable"), json!({}))?;
        }
        Ok(Page { connection, _browser: PhantomData })
    }

    /// Navigates to `url` and waits for its load event (so not for a fragment-only change,
    /// which fires none).
    ///
    /// # Errors
    /// [`ChromiumError::Navigation`] when the page cannot be fetched (connection refused, …);
    /// [`ChromiumError::LoadTimeout`] when it does not load in time. An HTTP error status is
    /// not an error: the page shows what the server answered.
    pub fn goto(&mut self, url: &str) -> Result<(), ChromiumError> {
        self.connection.discard_events("Page.loadEventFired");
        let navigation = self.connection.call("Page.navigate", json!({ "url": url }))?;
        if let Some(error) = navigation.get("errorText").and_then(Value::as_str).filter(|error| !error.is_empty()) {
            return Err(ChromiumError::Navigation { url: url.to_owned(), error: error.to_owned() });
        }
        let deadline = Instant::now() + LOAD_TIMEOUT;
        match self.connection.wait_event("Page.loadEventFired", deadline)? {
            Some(_) => Ok(()),
            None => Err(ChromiumError::LoadTimeout { url: url.to_owned(), timeout: LOAD_TIMEOUT }),
        }
    }

    /// Evaluates `js` in the page and returns its value as JSON, awaiting it if it is a
    /// promise. `undefined`, DOM nodes and values JSON cannot hold (`NaN`, …) come back as
    /// `null` or `{}`.
    ///
    /// # Errors
    /// [`ChromiumError::Js`] with the exception's description when `js` throws or its
    /// promise rejects.
    pub fn eval(&mut self, js: &str) -> Result<Value, ChromiumError> {
        let params = json!({ "expression": js, "returnByValue": true, "awaitPromise": true, "userGesture": true });
        let mut evaluation = self.connection.call("Runtime.evaluate", params)?;
        if let Some(exception) = evaluation.get("exceptionDetails") {
            let description = exception.pointer("/exception/description").and_then(Value::as_str);
            let message =
                description.or_else(|| exception.get("text").and_then(Value::as_str)).unwrap_or("an exception");
            return Err(ChromiumError::Js(message.to_owned()));
        }
        Ok(evaluation.pointer_mut("/result/value").map(Value::take).unwrap_or(Value::Null))
    }

    /// Evaluates `condition` every few milliseconds until its value is truthy and returns
    /// that value. While it throws (an element not there yet) or the page is between
    /// documents, it is tried again.
    ///
    /// # Errors
    /// [`ChromiumError::WaitTimeout`] after `timeout`, naming the condition, its last result,
    /// the page's URL and the start of its text.
    pub fn wait_for(&mut self, condition: &str, timeout: Duration) -> Result<Value, ChromiumError> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.eval(condition) {
                Ok(value) if is_truthy(&value) => return Ok(value),
                Ok(value) => value.to_string(),
                Err(ChromiumError::Js(message)) => format!("threw {message}"),
                // "Execution context was destroyed": a navigation is under way.
                Err(ChromiumError::Protocol { message, .. }) => format!("failed: {message}"),
                Err(error) => return Err(error),
            };
            if Instant::now() >= deadline {
                // Best effort: the page may be between documents; the timeout is the error.
                let location =
                    self.eval("[location.href, document.body ? document.body.innerText : '']").unwrap_or_default();
                let url = location[0].as_str().unwrap_or_default().to_owned();
                let text = location[1].as_str().unwrap_or_default().chars().take(TEXT_EXCERPT_CHARS).collect();
                return Err(ChromiumError::WaitTimeout { condition: condition.to_owned(), timeout, url, last, text });
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Scrolls the first element matching `selector` into view and clicks its centre with
    /// the left mouse button.
    ///
    /// # Errors
    /// [`ChromiumError::NoElement`], or [`ChromiumError::NotVisible`] when it has no size
    /// (`display: none`).
    pub fn click(&mut self, selector: &str) -> Result<(), ChromiumError> {
        let centre = self.eval(&format!(
            "(() => {{
                const element = document.querySelector({selector});
                if (!element) return null;
                element.scrollIntoView({{ block: 'center', inline: 'center' }});
                const rect = element.getBoundingClientRect();
                return {{ x: rect.left + rect.width / 2, y: rect.top + rect.height / 2, area: rect.width * rect.height }};
            }})()",
            selector = js_string(selector),
        ))?;
        if centre.is_null() {
            return Err(ChromiumError::NoElement { selector: selector.to_owned() });
        }
        if centre["area"].as_f64().unwrap_or_default() <= 0.0 {
            return Err(ChromiumError::NotVisible { selector: selector.to_owned() });
        }
        let (x, y) = (&centre["x"], &centre["y"]);
        self.connection.call("Input.dispatchMouseEvent", json!({ "type": "mouseMoved", "x": x, "y": y }))?;
        for kind in ["mousePressed", "mouseReleased"] {
            let event = json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 });
            self.connection.call("Input.dispatchMouseEvent", event)?;
        }
        Ok(())
    }

    /// Focuses the first element matching `selector` and types `text` at its cursor (after
    /// what it holds), firing `input` events as typing does.
    ///
    /// # Errors
    /// [`ChromiumError::NoElement`].
    pub fn type_into(&mut self, selector: &str, text: &str) -> Result<(), ChromiumError> {
        let focused = self.eval(&format!(
            "(() => {{
                const element = document.querySelector({selector});
                if (!element) return false;
                element.focus();
                if (typeof element.value === 'string') element.setSelectionRange?.(element.value.length, element.value.length);
                return true;
            }})()",
            selector = js_string(selector),
        ))?;
        if focused != Value::Bool(true) {
            return Err(ChromiumError::NoElement { selector: selector.to_owned() });
        }
        self.connection.call("Input.insertText", json!({ "text": text }))?;
        Ok(())
    }

    /// The rendered text (`innerText`) of the first element matching `selector`.
    ///
    /// # Errors
    /// [`ChromiumError::NoElement`].
    pub fn text(&mut self, selector: &str) -> Result<String, ChromiumError> {
        let text = self
            .eval(&format!("document.querySelector({selector})?.innerText ?? null", selector = js_string(selector)))?;
        match text {
            Value::String(text) => Ok(text),
            _ => Err(ChromiumError::NoElement { selector: selector.to_owned() }),
        }
    }

    /// Saves what the viewport shows as a PNG file at `path`.
    ///
    /// # Errors
    /// When Chromium fails to capture or the file cannot be written.
    pub fn screenshot_png(&mut self, path: &Path) -> Result<(), ChromiumError> {
        let screenshot = self.connection.call("Page.captureScreenshot", json!({ "format": "png" }))?;
        let png = screenshot
            .get("data")
            .and_then(Value::as_str)
            .and_then(|data| data_encoding::BASE64.decode(data.as_bytes()).ok())
            .ok_or_else(|| ChromiumError::Protocol {
                method: "Page.captureScreenshot".to_owned(),
                message: "no base64 data in the response".to_owned(),
            })?;
        std::fs::write(path, png)?;
        Ok(())
    }

    /// Sends these headers with every later request of this page (`Authorization: Bearer …`),
    /// replacing the ones set before.
    ///
    /// # Errors
    /// When Chromium refuses (a header name it does not accept).
    pub fn set_extra_http_headers(&mut self, headers: &[(&str, &str)]) -> Result<(), ChromiumError> {
        let headers: serde_json::Map<String, Value> =
            headers.iter().map(|(name, value)| ((*name).to_owned(), Value::from(*value))).collect();
        self.connection.call("Network.setExtraHTTPHeaders", json!({ "headers": headers }))?;
        Ok(())
    }

    /// Sets cookie `name=value` for `url` (its host and path), as a server's `Set-Cookie`
    /// would, so pages loaded after it send it.
    ///
    /// # Errors
    /// [`ChromiumError::Protocol`] when Chromium rejects the cookie.
    pub fn set_cookie(&mut self, url: &str, name: &str, value: &str) -> Result<(), ChromiumError> {
        let res = self.connection.call("Network.setCookie", json!({ "url": url, "name": name, "value": value }))?;
        if res.get("success") == Some(&Value::Bool(false)) {
            return Err(ChromiumError::Protocol {
                method: "Network.setCookie".to_owned(),
                message: format!("cookie {name} for {url} was rejected"),
            });
        }
        Ok(())
    }

    /// The events received since the last call, oldest first (`Runtime.exceptionThrown`,
    /// `Runtime.consoleAPICalled`, `Network.requestWillBeSent`, …); at most the last 10 000.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.connection.take_events()
    }
}

/// JavaScript's truthiness for a value that came back as JSON.
fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(value) => *value,
        Value::Number(number) => number.as_f64().is_some_and(|number| number != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `text` as a JavaScript string literal (JSON's syntax is a subset of JavaScript's).
fn js_string(text: &str) -> String {
    Value::from(text).to_string()
}
