//! The options of a copy, from the dict the Python layer passes, into zcio's
//! `Options` and `TreeOptions` builders.

use pyo3::prelude::*;

use crate::errors::bad_value;

/// The per-file options, one key per `zcio::Options` setter. The Python layer
/// passes every key: its signatures are where the defaults live.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct FileOpts {
    method: String,
    engine: Option<String>,
    queue_depth: u32,
    chunk_size: u64,
    fsync: bool,
    fallback: bool,
    exclusive: bool,
    in_place: bool,
    reflink: bool,
    sparse: bool,
    preserve_times: bool,
    preserve_xattrs: bool,
    preserve_mode: bool,
    preserve_owner: bool,
    nofollow: bool,
    uncached: bool,
}

fn parse_method(s: &str) -> PyResult<zcio::Method> {
    s.parse().map_err(|_| {
        let names: Vec<&str> = zcio::Method::ALL.iter().map(|m| m.name()).collect();
        bad_value("method", s, &names)
    })
}

fn parse_engine(s: &str) -> PyResult<zcio::Engine> {
    s.parse().map_err(|_| {
        let names: Vec<&str> = zcio::Engine::ALL.iter().map(|e| e.name()).collect();
        bad_value("engine", s, &names)
    })
}

/// [`FileOpts`] checked: plain data, so it can go to the threads a copy runs on
/// (zcio's `Options` may hold a callback and stays on one thread).
#[derive(Clone, Copy)]
pub struct FileSettings {
    method: zcio::Method,
    engine: Option<zcio::Engine>,
    queue_depth: u32,
    chunk_size: u64,
    flags: [bool; 12],
}

impl FileOpts {
    pub fn check(&self) -> PyResult<FileSettings> {
        Ok(FileSettings {
            method: parse_method(&self.method)?,
            engine: self.engine.as_deref().map(parse_engine).transpose()?,
            queue_depth: self.queue_depth,
            chunk_size: self.chunk_size,
            flags: [
                self.fsync,
                self.fallback,
                self.exclusive,
                self.in_place,
                self.reflink,
                self.sparse,
                self.preserve_times,
                self.preserve_xattrs,
                self.preserve_mode,
                self.preserve_owner,
                self.nofollow,
                self.uncached,
            ],
        })
    }
}

impl FileSettings {
    /// zcio's options; the progress callback is set by the caller.
    pub fn options<'a>(&self) -> zcio::Options<'a> {
        let [
            fsync,
            fallback,
            excl,
            in_place,
            reflink,
            sparse,
            times,
            xattrs,
            mode,
            owner,
            nofollow,
            uncached,
        ] = self.flags;
        zcio::Options::new()
            .method(self.method)
            .engine(self.engine)
            .queue_depth(self.queue_depth)
            .chunk_size(self.chunk_size)
            .fsync(fsync)
            .fallback(fallback)
            .exclusive(excl)
            .in_place(in_place)
            .reflink(reflink)
            .sparse(sparse)
            .preserve_times(times)
            .preserve_xattrs(xattrs)
            .preserve_mode(mode)
            .preserve_owner(owner)
            .nofollow(nofollow)
            .uncached(uncached)
    }
}

/// The tree options besides the per-file ones.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct TreeOpts {
    follow: String,
    /// Names of `zcio::Preserve` flags: "mode", "ownership", "timestamps",
    /// "links", "xattrs".
    preserve: Vec<String>,
    existing: String,
    merge: bool,
    one_file_system: bool,
    jobs: u32,
}

/// [`TreeOpts`] checked, as [`FileSettings`] is.
#[derive(Clone, Copy)]
pub struct TreeSettings {
    follow: zcio::Follow,
    preserve: zcio::Preserve,
    existing: zcio::Existing,
    merge: bool,
    one_file_system: bool,
    jobs: u32,
}

impl TreeOpts {
    pub fn check(&self) -> PyResult<TreeSettings> {
        use zcio::{Existing, Follow, Preserve};
        let follow = match self.follow.as_str() {
            "never" => Follow::Never,
            "top" => Follow::Top,
            "all" => Follow::All,
            s => return Err(bad_value("follow", s, &["never", "top", "all"])),
        };
        let existing = match self.existing.as_str() {
            "replace" => Existing::Replace,
            "keep" => Existing::Keep,
            "newer" => Existing::Newer,
            s => return Err(bad_value("existing", s, &["replace", "keep", "newer"])),
        };
        let mut preserve = Preserve::empty();
        for p in &self.preserve {
            preserve |= match p.as_str() {
                "mode" => Preserve::MODE,
                "ownership" => Preserve::OWNERSHIP,
                "timestamps" => Preserve::TIMESTAMPS,
                "links" => Preserve::LINKS,
                "xattrs" => Preserve::XATTRS,
                "all" => Preserve::all(),
                s => {
                    return Err(bad_value(
                        "preserve flag",
                        s,
                        &["mode", "ownership", "timestamps", "links", "xattrs", "all"],
                    ));
                }
            };
        }
        Ok(TreeSettings {
            follow,
            preserve,
            existing,
            merge: self.merge,
            one_file_system: self.one_file_system,
            jobs: self.jobs,
        })
    }
}

impl TreeSettings {
    /// zcio's tree options with `file` for each file; callbacks are set by the caller.
    pub fn options<'a>(&self, file: &FileSettings) -> zcio::TreeOptions<'a> {
        zcio::TreeOptions::new()
            .file_options(file.options())
            .follow(self.follow)
            .preserve(self.preserve)
            .existing(self.existing)
            .merge(self.merge)
            .one_file_system(self.one_file_system)
            .jobs(self.jobs)
    }
}
