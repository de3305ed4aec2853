//! Telling how a CSV file's bytes encode its text, and decoding it as it is read.

#[allow(unused_imports)]
use super::*;

/// How the bytes of a CSV file encode its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 starting with a byte-order mark (Excel's "CSV UTF-8").
    Utf8Bom,
    /// UTF-16 little-endian with a byte-order mark (Excel's "Unicode text").
    Utf16Le,
    /// UTF-16 big-endian with a byte-order mark.
    Utf16Be,
    /// Windows-1258, the Vietnamese code page (Excel's plain "CSV" on a Vietnamese Windows).
    Windows1258,
}

impl Encoding {
    /// The encoding's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 (BOM)",
            Encoding::Utf16Le => "UTF-16LE",
            Encoding::Utf16Be => "UTF-16BE",
            Encoding::Windows1258 => "Windows-1258",
        }
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
pub(super) fn fill(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Decides how a whole file is encoded: a byte-order mark names UTF-8 or UTF-16; otherwise text that is
/// valid UTF-8 throughout is UTF-8 and anything else is read as Windows-1258. Reads `input` to its end,
/// 64 KiB at a time (the caller then opens the file again to read it).
pub fn detect_encoding(mut input: impl Read) -> io::Result<Encoding> {
    let mut buf = vec![0u8; 64 * 1024];
    // buf[..kept] holds the start of a character cut by the previous chunk's end.
    let mut kept = 0usize;
    let mut first = true;
    loop {
        let want = buf.len() - kept;
        let n = fill(&mut input, &mut buf[kept..])?;
        let len = kept + n;
        let end = n < want;
        if first {
            first = false;
            let head = &buf[..len];
            if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
                return Ok(Encoding::Utf8Bom);
            }
            if head.starts_with(&[0xFF, 0xFE]) {
                return Ok(Encoding::Utf16Le);
            }
            if head.starts_with(&[0xFE, 0xFF]) {
                return Ok(Encoding::Utf16Be);
            }
        }
        kept = match std::str::from_utf8(&buf[..len]) {
            Ok(_) => 0,
            Err(e) if e.error_len().is_none() && !end => {
                let from = e.valid_up_to();
                buf.copy_within(from..len, 0);
                len - from
            }
            Err(_) => return Ok(Encoding::Windows1258),
        };
        if end {
            return Ok(Encoding::Utf8);
        }
    }
}

/// A reader that turns the bytes of a file in `encoding` into UTF-8 (without a byte-order mark) and
/// counts the raw bytes it has read, for progress.
pub struct Decoded<R> {
    inner: R,
    decoder: Option<encoding_rs::Decoder>,
    raw: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    raw_read: u64,
    done: bool,
}

impl<R: Read> Decoded<R> {
    /// Decodes `inner`, which holds text in `encoding`.
    pub fn new(inner: R, encoding: Encoding) -> Self {
        let decoder = match encoding {
            // Plain UTF-8 passes through untouched (the fast path for large generated files).
            Encoding::Utf8 => None,
            Encoding::Utf8Bom => Some(encoding_rs::UTF_8.new_decoder_with_bom_removal()),
            Encoding::Utf16Le => Some(encoding_rs::UTF_16LE.new_decoder_with_bom_removal()),
            Encoding::Utf16Be => Some(encoding_rs::UTF_16BE.new_decoder_with_bom_removal()),
            Encoding::Windows1258 => {
                Some(encoding_rs::WINDOWS_1258.new_decoder_without_bom_handling())
            }
        };
        Decoded {
            inner,
            decoder,
            raw: vec![0u8; 64 * 1024],
            out: Vec::new(),
            pos: 0,
            raw_read: 0,
            done: false,
        }
    }

    /// Bytes of the underlying input read so far.
    pub fn raw_bytes_read(&self) -> u64 {
        self.raw_read
    }

    pub(super) fn refill(&mut self) -> io::Result<()> {
        let n = loop {
            match self.inner.read(&mut self.raw) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        self.raw_read += n as u64;
        let last = n == 0;
        self.pos = 0;
        self.out.clear();
        match &mut self.decoder {
            None => self.out.extend_from_slice(&self.raw[..n]),
            Some(dec) => {
                let mut s = String::new();
                let mut from = 0;
                loop {
                    let need = dec.max_utf8_buffer_length(n - from).ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidData, "decoder buffer overflow")
                    })?;
                    s.reserve(need);
                    let (res, read, _) = dec.decode_to_string(&self.raw[from..n], &mut s, last);
                    from += read;
                    if res == encoding_rs::CoderResult::InputEmpty {
                        break;
                    }
                }
                self.out = s.into_bytes();
            }
        }
        self.done = last;
        Ok(())
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.pos);
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
    }
}

/// Characters that make a spreadsheet read a cell as a formula (OWASP's list).
pub(super) const FORMULA_LEAD: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
