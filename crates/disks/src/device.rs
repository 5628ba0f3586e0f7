//! Reading a device's first bytes: the one place the scanner touches the
//! devices themselves, behind a trait so tests can hand it any bytes or any
//! error.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Gives the first bytes of a block device.
pub trait DeviceReader {
    /// Up to `len` bytes from the start of the device at `path` (fewer when
    /// the device is smaller).
    fn read_head(&self, path: &Path, len: usize) -> io::Result<Vec<u8>>;
}

/// Reads the device node itself, read-only: never opened for writing, so
/// probing a disk cannot trigger the partition rescan or udev events that a
/// close after writing does.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileReader;

impl DeviceReader for FileReader {
    fn read_head(&self, path: &Path, len: usize) -> io::Result<Vec<u8>> {
        let mut head = Vec::with_capacity(len);
        File::open(path)?.take(len as u64).read_to_end(&mut head)?;
        Ok(head)
    }
}

/// An I/O error in the words of the operating system, without the
/// "(os error N)" tail that means nothing to an operator.
pub(crate) fn describe_io_error(err: &io::Error) -> String {
    let text = err.to_string();
    let text = text
        .rsplit_once(" (os error ")
        .map_or(text.as_str(), |(words, _)| words);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "unknown error".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_read_plainly() {
        let denied = io::Error::from_raw_os_error(13);
        assert_eq!(describe_io_error(&denied), "permission denied");
        let custom = io::Error::other("Odd thing");
        assert_eq!(describe_io_error(&custom), "odd thing");
    }

    #[test]
    fn reads_at_most_len_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev");
        std::fs::write(&path, [7u8; 100]).unwrap();
        assert_eq!(FileReader.read_head(&path, 10).unwrap(), vec![7; 10]);
        assert_eq!(FileReader.read_head(&path, 1000).unwrap().len(), 100);
        assert!(FileReader.read_head(&dir.path().join("none"), 10).is_err());
    }
}
