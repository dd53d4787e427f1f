//! Images: looked up, pulled from a registry, built from a folder, loaded from a `docker save`
//! archive.

use std::collections::HashMap;
use std::path::Path;

use bollard::query_parameters::{BuildImageOptions, CreateImageOptions, ImportImageOptions};
use futures_util::StreamExt as _;

use crate::{DockerError, Engine};

/// Credentials for a registry (`container.credentials`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Engine {
    /// The id of `image` (a reference or an id), `None` when the engine does not have it.
    ///
    /// # Errors
    /// The engine failed to answer.
    pub async fn image_id(&self, image: &str) -> Result<Option<String>, DockerError> {
        match self.docker.inspect_image(image).await {
            Ok(inspect) => Ok(Some(inspect.id.unwrap_or_else(|| image.to_owned()))),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(source) => Err(DockerError::Api {
                action: format!("looking for the image `{image}` in the engine at {}", self.endpoint),
                source,
            }),
        }
    }

    /// Whether `image` is on the host.
    ///
    /// # Errors
    /// The engine failed to answer.
    pub async fn has_image(&self, image: &str) -> Result<bool, DockerError> {
        Ok(self.image_id(image).await?.is_some())
    }

    /// Makes sure `image` is on the host: there already, else pulled (with `credentials`).
    ///
    /// # Errors
    /// [`DockerError::ImageUnavailable`] when it is missing and cannot be pulled.
    pub async fn ensure_image(&self, image: &str, credentials: Option<&Credentials>) -> Result<(), DockerError> {
        if self.has_image(image).await? {
            return Ok(());
        }
        let (from_image, tag) = split_tag(image);
        let options = CreateImageOptions {
            from_image: Some(from_image.to_owned()),
            tag: Some(tag.to_owned()),
            ..CreateImageOptions::default()
        };
        let credentials = credentials.map(|credentials| bollard::auth::DockerCredentials {
            username: Some(credentials.username.clone()),
            password: Some(credentials.password.clone()),
            ..bollard::auth::DockerCredentials::default()
        });
        let mut pull = self.docker.create_image(Some(options), None, credentials);
        let unavailable = |reason: String| DockerError::ImageUnavailable { image: image.to_owned(), reason };
        while let Some(info) = pull.next().await {
            let info = info.map_err(|error| unavailable(error.to_string()))?;
            if let Some(detail) = info.error_detail {
                return Err(unavailable(detail.message.unwrap_or_default()));
            }
        }
        if self.has_image(image).await? { Ok(()) } else { Err(unavailable("the pull ended without it".to_owned())) }
    }

    /// Builds `tag` from the folder `context` with its `dockerfile` (relative to the folder),
    /// labelled with `labels`; `progress` gets the build's output lines.
    ///
    /// # Errors
    /// [`DockerError::Build`] with the build's own error message.
    pub async fn build_image(
        &self,
        context: &Path,
        dockerfile: &str,
        tag: &str,
        labels: HashMap<String, String>,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), DockerError> {
        let failed =
            |reason: String| DockerError::Build { tag: tag.to_owned(), context: context.display().to_string(), reason };
        let archive = {
            let context = context.to_path_buf();
            tokio::task::spawn_blocking(move || tar_folder(&context))
                .await
                .map_err(|error| failed(error.to_string()))?
                .map_err(|error| failed(format!("packing the build context: {error}")))?
        };
        let options = BuildImageOptions {
            dockerfile: dockerfile.to_owned(),
            t: Some(tag.to_owned()),
            rm: true,
            forcerm: true,
            labels: Some(labels),
            ..BuildImageOptions::default()
        };
        let mut build = self.docker.build_image(options, None, Some(bollard::body_full(archive.into())));
        while let Some(info) = build.next().await {
            let info = info.map_err(|error| failed(error.to_string()))?;
            if let Some(detail) = info.error_detail {
                return Err(failed(detail.message.unwrap_or_default()));
            }
            if let Some(text) = info.stream {
                for line in text.lines().filter(|line| !line.trim().is_empty()) {
                    progress(line);
                }
            }
        }
        Ok(())
    }

    /// `docker load` of the archive at `path`, streamed; the id of the one image it holds.
    ///
    /// # Errors
    /// The file cannot be read, the engine refused it, or it held no image or several
    /// ([`DockerError::NoImageLoaded`], [`DockerError::SeveralImagesLoaded`]).
    pub async fn load_image(&self, path: &Path) -> Result<String, DockerError> {
        let file = tokio::fs::File::open(path).await.map_err(|source| DockerError::File {
            action: "opening",
            path: path.to_owned(),
            source,
        })?;
        let chunks = futures_util::stream::unfold(file, |mut file| async move {
            use tokio::io::AsyncReadExt as _;
            let mut buf = vec![0u8; 256 * 1024];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<_, std::io::Error>(buf.into()), file))
                }
                Err(error) => Some((Err(error), file)),
            }
        });
        let options = ImportImageOptions { quiet: true, ..ImportImageOptions::default() };
        let mut progress = self.docker.import_image_stream(options, chunks, None);
        let mut loaded = Vec::new();
        while let Some(info) = progress.next().await {
            let info = info.map_err(crate::api(format!("sending {} to the engine", path.display())))?;
            let text = info.stream.unwrap_or_default();
            for line in text.lines() {
                if let Some(id) = line.strip_prefix("Loaded image ID: ") {
                    loaded.push(id.trim().to_owned());
                } else if let Some(reference) = line.strip_prefix("Loaded image: ") {
                    loaded.push(reference.trim().to_owned());
                }
            }
        }
        let [image] = &loaded[..] else {
            return Err(if loaded.is_empty() {
                DockerError::NoImageLoaded
            } else {
                DockerError::SeveralImagesLoaded { images: loaded }
            });
        };
        self.image_id(image).await?.ok_or_else(|| DockerError::LoadedImageLost { image: image.clone() })
    }
}

/// `name[:tag]` → name and tag (`latest` when none); a digest (`name@sha256:…`) stays whole.
pub(crate) fn split_tag(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    let last_part_start = image.rfind('/').map_or(0, |slash| slash + 1);
    match image[last_part_start..].rfind(':') {
        Some(colon) => (&image[..last_part_start + colon], &image[last_part_start + colon + 1..]),
        None => (image, "latest"),
    }
}

/// The folder `dir` as a tar archive (a build context), symlinks kept as links.
fn tar_folder(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", dir)?;
    builder.into_inner()
}
