//! The artifact routes: blobs go up and down as streams of a file's bytes (never whole in
//! memory), a downloaded blob's digest is checked as it arrives, and manifests are JSON.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use ferry_proto::artifacts::{ArtifactUpload, ArtifactView, BlobList, CacheEntryView, CacheLookup};
use http_body_util::BodyExt;
use hyper::Method;
use hyper::body::{Body, Bytes, Frame, SizeHint};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};

use crate::{CALL_TIMEOUT, Client, ClientError, Upload, refusal, segment};

/// How long moving one blob or archive may take.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// How much of a file one chunk of an upload holds.
const CHUNK: usize = 64 * 1024;

impl Client {
    /// `POST /api/v1/runner/blobs/missing`: which of `digests` the server has no blob for.
    ///
    /// # Errors
    /// Any [`ClientError`]; 400 for a digest that is not 64 lowercase hex digits.
    pub async fn missing_blobs(&self, digests: &[String]) -> Result<Vec<String>, ClientError> {
        let list = BlobList { digests: digests.to_vec() };
        let missing: BlobList = self.json(Method::POST, "/api/v1/runner/blobs/missing", Some(&list)).await?;
        Ok(missing.digests)
    }

    /// `PUT /api/v1/runner/blobs/{sha256}`: uploads the file at `path` as the blob `digest`,
    /// streamed from the file.
    ///
    /// # Errors
    /// [`ClientError::Unexpected`] when the file cannot be read; else any [`ClientError`]; 422
    /// when the file's digest is not `digest` (it changed since it was hashed), 413 over 10 GiB.
    pub async fn upload_blob(&self, digest: &str, path: &Path) -> Result<(), ClientError> {
        self.put_file(&format!("/api/v1/runner/blobs/{}", segment(digest)), path).await
    }

    /// `PUT api_path` with the file at `path` as the body, streamed from the file.
    pub(crate) async fn put_file(&self, api_path: &str, path: &Path) -> Result<(), ClientError> {
        let api_path = api_path.to_owned();
        let unreadable = |error: std::io::Error| ClientError::Unexpected {
            method: "PUT".to_owned(),
            path: api_path.clone(),
            message: format!("reading {}: {error}", path.display()),
        };
        let file = tokio::fs::File::open(path).await.map_err(unreadable)?;
        let length = file.metadata().await.map_err(unreadable)?.len();
        let body = FileBody { file, buf: vec![0; CHUNK], left: length }.boxed();
        let upload = Upload { body, content_type: "application/octet-stream", length: Some(length) };
        let response = self.send(Method::PUT, &api_path, Some(upload), TRANSFER_TIMEOUT).await?;
        let status = response.status();
        let bytes = self.read_body(&Method::PUT, &api_path, response.into_body(), CALL_TIMEOUT).await?;
        if !status.is_success() {
            return Err(refusal(&Method::PUT, &api_path, status, &bytes));
        }
        Ok(())
    }

    /// `GET /api/v1/runner/blobs/{sha256}`: writes the blob to `dest`, checking its digest.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when the server has no such blob; [`ClientError::Unexpected`]
    /// when `dest` cannot be written or the bytes are not the blob `digest`.
    pub async fn download_blob(&self, digest: &str, dest: &Path) -> Result<(), ClientError> {
        let api_path = format!("/api/v1/runner/blobs/{}", segment(digest));
        let actual = self.download(&api_path, dest).await?;
        if actual != digest {
            return Err(ClientError::Unexpected {
                method: "GET".to_owned(),
                path: api_path,
                message: format!("the bytes' SHA-256 is {actual}, not {digest}"),
            });
        }
        Ok(())
    }

    /// `POST /api/v1/runner/jobs/{id}/artifacts`: records an artifact whose blobs are uploaded.
    ///
    /// # Errors
    /// Any [`ClientError`]; 409 when the run has an artifact of this name (or the job is no
    /// longer this runner's), 422 naming the first blob the server lacks, 400 for a bad path.
    pub async fn create_artifact(&self, job_id: i64, upload: &ArtifactUpload) -> Result<ArtifactView, ClientError> {
        self.json(Method::POST, &format!("/api/v1/runner/jobs/{job_id}/artifacts"), Some(upload)).await
    }

    /// `POST /api/v1/runner/jobs/{id}/cache/lookup`: the cache entry of the job's project that
    /// `actions/cache` restores for `lookup`, if any.
    ///
    /// # Errors
    /// Any [`ClientError`]; 409 when the job is no longer this runner's.
    pub async fn lookup_cache(&self, job_id: i64, lookup: &CacheLookup) -> Result<Option<CacheEntryView>, ClientError> {
        let path = format!("/api/v1/runner/jobs/{job_id}/cache/lookup");
        let (status, bytes) = self.call(Method::POST, &path, Some(lookup), CALL_TIMEOUT).await?;
        if status == hyper::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        crate::decode(&Method::POST, &path, &bytes).map(Some)
    }

    /// `POST /api/v1/runner/jobs/{id}/cache`: saves a cache entry whose blobs are uploaded.
    ///
    /// # Errors
    /// Any [`ClientError`]; 409 when the project has an entry under this key (or the job is no
    /// longer this runner's), 422 naming the first blob the server lacks.
    pub async fn save_cache(&self, job_id: i64, entry: &CacheEntryView) -> Result<CacheEntryView, ClientError> {
        self.json(Method::POST, &format!("/api/v1/runner/jobs/{job_id}/cache"), Some(entry)).await
    }

    /// `GET /api/v1/runner/jobs/{id}/artifacts`: the artifacts of the job's run.
    ///
    /// # Errors
    /// Any [`ClientError`]; 409 when the job is no longer this runner's.
    pub async fn job_artifacts(&self, job_id: i64) -> Result<Vec<ArtifactView>, ClientError> {
        self.json(Method::GET, &format!("/api/v1/runner/jobs/{job_id}/artifacts"), None::<&()>).await
    }

    /// `GET /api/v1/runs/{id}/artifacts`: a run's artifacts.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when there is no such run.
    pub async fn run_artifacts(&self, run_id: i64) -> Result<Vec<ArtifactView>, ClientError> {
        self.json(Method::GET, &format!("/api/v1/runs/{run_id}/artifacts"), None::<&()>).await
    }

    /// `GET /api/v1/runs/{id}/artifacts/{name}`: writes the artifact as a `.tar` to `dest`.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when there is no such run or artifact.
    pub async fn download_artifact(&self, run_id: i64, name: &str, dest: &Path) -> Result<(), ClientError> {
        self.download(&format!("/api/v1/runs/{run_id}/artifacts/{}", segment(name)), dest).await.map(drop)
    }

    /// Streams the answer to `GET api_path` into the file `dest`; the SHA-256 of what came.
    pub(crate) async fn download(&self, api_path: &str, dest: &Path) -> Result<String, ClientError> {
        let method = Method::GET;
        let started = tokio::time::Instant::now();
        let response = self.send(method.clone(), api_path, None, TRANSFER_TIMEOUT).await?;
        let status = response.status();
        let mut body = response.into_body();
        if !status.is_success() {
            let bytes = self.read_body(&method, api_path, body, CALL_TIMEOUT).await?;
            return Err(refusal(&method, api_path, status, &bytes));
        }
        let unwritable = |error: std::io::Error| ClientError::Unexpected {
            method: method.to_string(),
            path: api_path.to_owned(),
            message: format!("writing {}: {error}", dest.display()),
        };
        let mut file = tokio::fs::File::create(dest).await.map_err(unwritable)?;
        let mut hasher = Sha256::new();
        loop {
            let left = TRANSFER_TIMEOUT.saturating_sub(started.elapsed());
            let frame = match tokio::time::timeout(left, body.frame()).await {
                Ok(Some(Ok(frame))) => frame,
                Ok(None) => break,
                Ok(Some(Err(error))) => {
                    return Err(ClientError::Connection {
                        url: self.base.clone(),
                        message: crate::error_chain(&error),
                    });
                }
                Err(_) => return Err(self.timed_out(&method, api_path, TRANSFER_TIMEOUT)),
            };
            if let Ok(data) = frame.into_data() {
                hasher.update(&data);
                file.write_all(&data).await.map_err(unwritable)?;
            }
        }
        file.flush().await.map_err(unwritable)?;
        Ok(hex::encode(hasher.finalize()))
    }
}

/// A request body read from a file as hyper asks for it.
struct FileBody {
    file: tokio::fs::File,
    buf: Vec<u8>,
    /// Bytes still to send.
    left: u64,
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = &mut *self;
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let mut buf = ReadBuf::new(&mut this.buf);
        ready!(Pin::new(&mut this.file).poll_read(cx, &mut buf))?;
        let filled = buf.filled();
        if filled.is_empty() {
            let message = format!("the file ended {} bytes early", this.left);
            return Poll::Ready(Some(Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, message))));
        }
        this.left = this.left.saturating_sub(filled.len() as u64);
        Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(filled)))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}
