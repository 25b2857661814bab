//! NumPy `.npy` arrays: format versions 1.0, 2.0 and 3.0; 1-D (one column) and 2-D
//! arrays in C or Fortran order; booleans, integers and floats of either byte order,
//! converted to f64.
//!
//! Nothing is allocated on the header's word alone: the data size it implies is checked
//! against the file's length when that is known, and otherwise the data is read in chunks
//! so that memory follows the bytes actually present.

use std::io::Read;

use anyhow::{anyhow, bail, Result};
use ndarray::{Array2, ShapeBuilder};

/// The first bytes of every NPY file.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// The longest header accepted (numpy itself refuses more than 10 000 bytes by default).
const MAX_HEADER: usize = 1 << 20;

/// Element types that can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F16,
    F32,
    F64,
}

/// An element type and its byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dtype {
    pub kind: Kind,
    pub big_endian: bool,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self.kind {
            Kind::Bool | Kind::I8 | Kind::U8 => 1,
            Kind::I16 | Kind::U16 | Kind::F16 => 2,
            Kind::I32 | Kind::U32 | Kind::F32 => 4,
            Kind::I64 | Kind::U64 | Kind::F64 => 8,
        }
    }

    /// Parses a numpy type string such as `<f8`, `|u1`, `>i4`.
    pub fn parse(descr: &str) -> std::result::Result<Dtype, String> {
        let unsupported = |why: &str| Err(format!("unsupported dtype '{descr}' ({why})"));
        let mut chars = descr.chars();
        let (order, rest) = match chars.next() {
            Some(c @ ('<' | '>' | '|' | '=')) => (c, chars.as_str()),
            _ => (
                if cfg!(target_endian = "big") {
                    '>'
                } else {
                    '<'
                },
                descr,
            ),
        };
        let big_endian = match order {
            '>' => true,
            '=' => cfg!(target_endian = "big"),
            _ => false,
        };
        let kind = match rest {
            "b1" | "?" => Kind::Bool,
            "i1" | "b" => Kind::I8,
            "u1" | "B" => Kind::U8,
            "i2" | "h" => Kind::I16,
            "u2" | "H" => Kind::U16,
            "i4" | "i" => Kind::I32,
            "u4" | "I" => Kind::U32,
            "i8" | "q" => Kind::I64,
            "u8" | "Q" => Kind::U64,
            "f2" | "e" => Kind::F16,
            "f4" | "f" => Kind::F32,
            "f8" | "d" => Kind::F64,
            _ => {
                return match rest.chars().next() {
                    Some('O') => unsupported("object arrays cannot be read without Python"),
                    Some('U' | 'S' | 'a') => unsupported("strings are not numbers"),
                    Some('c') => unsupported("complex numbers"),
                    Some('M' | 'm') => unsupported("dates and times"),
                    Some('V') => unsupported("raw bytes or records"),
                    _ => unsupported(
                        "expected booleans, integers or floats: b1, i1, u1, i2, u2, i4, u4, i8, u8, f2, f4, f8",
                    ),
                }
            }
        };
        Ok(Dtype { kind, big_endian })
    }

    /// Converts whole elements of `bytes` and appends them to `out`.
    pub fn convert(self, bytes: &[u8], out: &mut Vec<f64>) {
        macro_rules! conv {
            ($t:ty, $n:expr) => {
                out.extend(bytes.chunks_exact($n).map(|c| {
                    let a: [u8; $n] = c.try_into().expect("chunk of element size");
                    if self.big_endian {
                        <$t>::from_be_bytes(a) as f64
                    } else {
                        <$t>::from_le_bytes(a) as f64
                    }
                }))
            };
        }
        match self.kind {
            Kind::Bool => out.extend(bytes.iter().map(|&b| if b != 0 { 1.0 } else { 0.0 })),
            Kind::I8 => out.extend(bytes.iter().map(|&b| b as i8 as f64)),
            Kind::U8 => out.extend(bytes.iter().map(|&b| b as f64)),
            Kind::I16 => conv!(i16, 2),
            Kind::U16 => conv!(u16, 2),
            Kind::I32 => conv!(i32, 4),
            Kind::U32 => conv!(u32, 4),
            Kind::I64 => conv!(i64, 8),
            Kind::U64 => conv!(u64, 8),
            Kind::F32 => conv!(f32, 4),
            Kind::F64 => conv!(f64, 8),
            Kind::F16 => out.extend(bytes.chunks_exact(2).map(|c| {
                let a = [c[0], c[1]];
                let bits = if self.big_endian {
                    u16::from_be_bytes(a)
                } else {
                    u16::from_le_bytes(a)
                };
                f16_to_f64(bits)
            })),
        }
    }
}

/// IEEE half precision to f64.
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((bits >> 10) & 0x1f) as i32;
    let frac = (bits & 0x3ff) as f64;
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

/// The parsed header of an NPY file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub dtype: Dtype,
    pub descr: String,
    pub fortran_order: bool,
    pub shape: Vec<usize>,
    /// Bytes before the data: magic, version, length and header text.
    pub data_offset: u64,
}

/// A Python literal, as far as NPY headers use them.
#[derive(Debug, Clone, PartialEq)]
enum Py {
    Str(String),
    Int(u128),
    Bool(bool),
    None,
    Seq(Vec<Py>),
    Dict(Vec<(Py, Py)>),
}

/// A tiny parser for the dict literal of an NPY header.
struct Lit<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lit<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> std::result::Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }

    fn value(&mut self, depth: usize) -> std::result::Result<Py, String> {
        if depth > 32 {
            return Err("nested too deeply".into());
        }
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => {
                self.i += 1;
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i] != q {
                    if self.s[self.i] == b'\\' {
                        self.i += 1;
                    }
                    self.i += 1;
                }
                if self.i >= self.s.len() {
                    return Err("unterminated string".into());
                }
                let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                Ok(Py::Str(text))
            }
            Some(open @ (b'(' | b'[')) => {
                let close = if open == b'(' { b')' } else { b']' };
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(close) {
                        self.i += 1;
                        return Ok(Py::Seq(items));
                    }
                    items.push(self.value(depth + 1)?);
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(c) if c == close => {}
                        _ => {
                            return Err(format!(
                                "expected ',' or '{}' at byte {}",
                                close as char, self.i
                            ))
                        }
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                        return Ok(Py::Dict(items));
                    }
                    let k = self.value(depth + 1)?;
                    self.expect(b':')?;
                    let v = self.value(depth + 1)?;
                    items.push((k, v));
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {}
                        _ => return Err(format!("expected ',' or '}}' at byte {}", self.i)),
                    }
                }
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).expect("digits");
                let n = text
                    .parse::<u128>()
                    .map_err(|_| format!("number too large: {text}"))?;
                if self.s.get(self.i) == Some(&b'L') {
                    self.i += 1; // Python 2 long
                }
                Ok(Py::Int(n))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i].is_ascii_alphanumeric() {
                    self.i += 1;
                }
                match &self.s[start..self.i] {
                    b"True" => Ok(Py::Bool(true)),
                    b"False" => Ok(Py::Bool(false)),
                    b"None" => Ok(Py::None),
                    w => Err(format!("unexpected word '{}'", String::from_utf8_lossy(w))),
                }
            }
            Some(c) => Err(format!("unexpected '{}' at byte {}", c as char, self.i)),
            None => Err("unexpected end".into()),
        }
    }
}

/// Parses the header dict text (`{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }`).
pub fn parse_header_dict(text: &[u8]) -> std::result::Result<(String, bool, Vec<usize>), String> {
    let mut p = Lit { s: text, i: 0 };
    let v = p.value(0)?;
    p.ws();
    if p.i != text.len() {
        return Err(format!(
            "unexpected text after the header dict at byte {}",
            p.i
        ));
    }
    let Py::Dict(items) = v else {
        return Err("the header is not a dict".into());
    };
    let get = |key: &str| {
        items
            .iter()
            .find(|(k, _)| *k == Py::Str(key.to_string()))
            .map(|(_, v)| v)
    };
    let descr = match get("descr") {
        Some(Py::Str(s)) => s.clone(),
        Some(Py::Seq(_)) => {
            return Err("structured arrays (record dtypes) are not supported".into())
        }
        Some(_) => return Err("'descr' is not a type string".into()),
        None => return Err("no 'descr' key".into()),
    };
    let fortran = match get("fortran_order") {
        Some(Py::Bool(b)) => *b,
        Some(_) => return Err("'fortran_order' is not True or False".into()),
        None => return Err("no 'fortran_order' key".into()),
    };
    let shape = match get("shape") {
        Some(Py::Seq(dims)) => dims
            .iter()
            .map(|d| match d {
                Py::Int(n) => {
                    usize::try_from(*n).map_err(|_| format!("dimension {n} is too large"))
                }
                _ => Err("'shape' holds something other than integers".to_string()),
            })
            .collect::<std::result::Result<Vec<_>, _>>()?,
        Some(_) => return Err("'shape' is not a tuple".into()),
        None => return Err("no 'shape' key".into()),
    };
    Ok((descr, fortran, shape))
}

/// Reads exactly `n` bytes or as many as there are; returns how many were read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads and checks the NPY header. `name` names the file in messages.
pub fn read_header(name: &str, r: &mut impl Read) -> Result<Header> {
    let mut pre = [0u8; 8];
    let n = read_up_to(r, &mut pre).map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
    if n < 6 || &pre[..6] != MAGIC {
        bail!("{name}: not an NPY file (it does not start with \\x93NUMPY)");
    }
    if n < 8 {
        bail!("{name}: truncated NPY file (it ends inside the header)");
    }
    let (major, minor) = (pre[6], pre[7]);
    let len_bytes = match major {
        1 => 2,
        2 | 3 => 4,
        _ => bail!(
            "{name}: unsupported NPY format version {major}.{minor} (supported: 1.0, 2.0, 3.0)"
        ),
    };
    let mut lb = [0u8; 4];
    if read_up_to(r, &mut lb[..len_bytes]).map_err(|e| anyhow!("{name}: cannot read: {e}"))?
        < len_bytes
    {
        bail!("{name}: truncated NPY file (it ends inside the header)");
    }
    let hlen = u32::from_le_bytes(lb) as usize;
    if hlen > MAX_HEADER {
        bail!("{name}: NPY header of {hlen} bytes is too long (corrupt file?)");
    }
    let mut text = vec![0u8; hlen];
    if read_up_to(r, &mut text).map_err(|e| anyhow!("{name}: cannot read: {e}"))? < hlen {
        bail!("{name}: truncated NPY file (it ends inside the header)");
    }
    let (descr, fortran_order, shape) =
        parse_header_dict(&text).map_err(|e| anyhow!("{name}: corrupt NPY header: {e}"))?;
    let dtype = Dtype::parse(&descr).map_err(|e| anyhow!("{name}: {e}"))?;
    Ok(Header {
        dtype,
        descr,
        fortran_order,
        shape,
        data_offset: (8 + len_bytes + hlen) as u64,
    })
}

fn shape_str(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Reads a whole NPY array as an N × D matrix of f64 (a 1-D array is one column).
///
/// `known_len` is the total size of the file (or zip member) when known: the header's
/// shape is then checked against it before anything is allocated.
///
/// # Errors
/// Bad magic, unsupported version or dtype, a corrupt header, a shape that is not 1-D or
/// 2-D, and a data size that does not match the shape (truncated or overlong file).
pub fn read_npy(name: &str, mut r: impl Read, known_len: Option<u64>) -> Result<Array2<f64>> {
    let h = read_header(name, &mut r)?;
    let (n, d) = match h.shape[..] {
        [n] => (n, 1),
        [n, d] => (n, d),
        _ => bail!(
            "{name}: array of shape {} has {} dimensions; expected 1 (one column) or 2 (rows × columns)",
            shape_str(&h.shape),
            h.shape.len()
        ),
    };
    let count = n
        .checked_mul(d)
        .ok_or_else(|| anyhow!("{name}: shape {} is too large", shape_str(&h.shape)))?;
    let size = h.dtype.size();
    let need = (count as u128) * (size as u128);
    let describe = || {
        format!(
            "header says shape {} of {} ({} bytes of data)",
            shape_str(&h.shape),
            h.descr,
            need
        )
    };
    if let Some(len) = known_len {
        let have = len.saturating_sub(h.data_offset) as u128;
        if have < need {
            bail!(
                "{name}: truncated NPY file: {} but only {have} bytes follow the header",
                describe()
            );
        }
        if have > need {
            bail!(
                "{name}: corrupt NPY file: {} but {have} bytes follow the header",
                describe()
            );
        }
    }
    let need = usize::try_from(need)
        .map_err(|_| anyhow!("{name}: shape {} is too large", shape_str(&h.shape)))?;
    // With a verified length the exact size is reserved; otherwise the vector grows as
    // bytes arrive.
    let mut data: Vec<f64> = Vec::with_capacity(if known_len.is_some() {
        count
    } else {
        count.min(1 << 16)
    });
    let chunk = (1 << 16) / size * size;
    let mut buf = vec![0u8; chunk.min(need.max(1))];
    let mut got = 0usize;
    while got < need {
        let want = buf.len().min(need - got);
        let k = read_up_to(&mut r, &mut buf[..want])
            .map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
        got += k;
        h.dtype.convert(&buf[..k], &mut data);
        if k < want {
            bail!(
                "{name}: truncated NPY file: {} but only {got} bytes follow the header",
                describe()
            );
        }
    }
    let mut extra = [0u8; 1];
    if read_up_to(&mut r, &mut extra).map_err(|e| anyhow!("{name}: cannot read: {e}"))? > 0 {
        bail!(
            "{name}: corrupt NPY file: {} but more bytes follow",
            describe()
        );
    }
    // ndarray refuses a shape with an axis over isize::MAX even when the other is 0 (an
    // empty array): an error, not a panic (found by fuzzing: shape (2**64-1, 0)).
    let too_large = |e| anyhow!("{name}: shape {} is too large: {e}", shape_str(&h.shape));
    let arr = if h.fortran_order && d > 1 {
        let f = Array2::from_shape_vec((n, d).f(), data).map_err(too_large)?;
        f.as_standard_layout().into_owned()
    } else {
        Array2::from_shape_vec((n, d), data).map_err(too_large)?
    };
    Ok(arr)
}

/// NPY bytes for tests: `data` is already encoded; the header is padded as numpy pads it.
#[cfg(test)]
pub fn npy_bytes(descr: &str, fortran: bool, shape: &[usize], data: &[u8], version: u8) -> Vec<u8> {
    let shape_txt = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let fo = if fortran { "True" } else { "False" };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': {fo}, 'shape': {shape_txt}, }}");
    let len_bytes = if version == 1 { 2 } else { 4 };
    while (8 + len_bytes + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend([version, 0]);
    if version == 1 {
        out.extend((dict.len() as u16).to_le_bytes());
    } else {
        out.extend((dict.len() as u32).to_le_bytes());
    }
    out.extend(dict.as_bytes());
    out.extend(data);
    out
}

/// Encodes `values` as the numpy type `descr` (`<f8`, `>i2`, `|b1`, ...), for tests.
#[cfg(test)]
pub fn encode(descr: &str, values: &[f64]) -> Vec<u8> {
    let be = descr.starts_with('>');
    let mut out = Vec::new();
    macro_rules! put {
        ($t:ty) => {
            for &v in values {
                let x = v as $t;
                out.extend(if be { x.to_be_bytes() } else { x.to_le_bytes() });
            }
        };
    }
    match &descr[1..] {
        "f8" => put!(f64),
        "f4" => put!(f32),
        "i8" => put!(i64),
        "i4" => put!(i32),
        "i2" => put!(i16),
        "i1" => put!(i8),
        "u8" => put!(u64),
        "u4" => put!(u32),
        "u2" => put!(u16),
        "u1" => put!(u8),
        "b1" => out.extend(values.iter().map(|&v| u8::from(v != 0.0))),
        other => panic!("no test encoder for {other}"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// An NPY header (version 1.0, padded as numpy pads it) with no data after it.
    fn header_only(dict: &str) -> Vec<u8> {
        let mut h = dict.as_bytes().to_vec();
        let pad = 64 - (10 + h.len() + 1) % 64;
        h.extend(std::iter::repeat_n(b' ', pad));
        h.push(b'\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(&h);
        out
    }

    /// Fuzz regressions (fuzz/corpus/npy/regress-empty-*.npy): an empty array whose
    /// other axis exceeds isize::MAX is a "too large" error, not a panic in ndarray; the
    /// same shapes that fit are read as empty arrays.
    #[test]
    fn empty_array_with_a_huge_axis_is_an_error() {
        for dict in [
            "{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551615, 0), }",
            "{'descr': '<f8', 'fortran_order': True, 'shape': (0, 18446744073709551615), }",
        ] {
            let bytes = header_only(dict);
            for e in [read(&bytes), read_stream(&bytes)] {
                let msg = format!("{:#}", e.unwrap_err());
                assert!(msg.contains("too large"), "{msg}");
            }
        }
        let ok = header_only("{'descr': '<f8', 'fortran_order': False, 'shape': (5, 0), }");
        assert_eq!(read(&ok).unwrap().dim(), (5, 0));
    }

    /// Fuzz regression (fuzz/corpus/npy/regress-zero-columns.npy): the streaming reader
    /// refuses an array with rows but no columns at open (it used to hand out 2**62 / 64
    /// empty chunks: a hang).
    #[test]
    fn streaming_reader_refuses_zero_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("z.npy");
        std::fs::write(
            &p,
            header_only(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 0), }",
            ),
        )
        .unwrap();
        let e = crate::stream::NpySource::open(p.to_str().unwrap(), None, 64)
            .err()
            .expect("zero columns refused");
        assert!(format!("{e:#}").contains("no columns"), "{e:#}");
        // Fuzz regression (fuzz/corpus/npy/regress-empty-huge-cols-fortran.npy, found by run.sh): no rows and 2**64-1 columns
        // is "no data rows", not a capacity overflow building the column list.
        std::fs::write(
            &p,
            header_only(
                "{'descr': '<f8', 'fortran_order': True, 'shape': (0, 18446744073709551615), }",
            ),
        )
        .unwrap();
        let e = crate::stream::NpySource::open(p.to_str().unwrap(), None, 64)
            .err()
            .expect("no rows refused");
        assert!(format!("{e:#}").contains("no data rows"), "{e:#}");
    }

    fn read(bytes: &[u8]) -> Result<Array2<f64>> {
        read_npy("t.npy", bytes, Some(bytes.len() as u64))
    }

    fn read_stream(bytes: &[u8]) -> Result<Array2<f64>> {
        read_npy("t.npy", bytes, None)
    }

    fn err(bytes: &[u8]) -> String {
        let e = read(bytes).unwrap_err().to_string();
        // Without a known length the same problem is found while reading.
        let e2 = read_stream(bytes).unwrap_err().to_string();
        assert!(
            e.starts_with("t.npy: ") && e2.starts_with("t.npy: "),
            "{e} / {e2}"
        );
        e
    }

    /// 3 × 2 in C order: [[1, -2], [3, 4], [-5, 6]].
    const C_VALUES: [f64; 6] = [1.0, -2.0, 3.0, 4.0, -5.0, 6.0];
    /// The same matrix in Fortran (column-major) order.
    const F_VALUES: [f64; 6] = [1.0, 3.0, -5.0, -2.0, 4.0, 6.0];

    #[test]
    fn every_dtype_both_orders_and_byte_orders() {
        let signed = array![[1.0, -2.0], [3.0, 4.0], [-5.0, 6.0]];
        let unsigned = signed.mapv(f64::abs);
        let bools = signed.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 });
        for ty in [
            "f8", "f4", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1", "b1",
        ] {
            let prefixes: &[&str] = if matches!(ty, "i1" | "u1" | "b1") {
                &["|", "<", ">"]
            } else {
                &["<", ">"]
            };
            for p in prefixes {
                let descr = format!("{p}{ty}");
                let (want, c, f): (_, Vec<f64>, Vec<f64>) = match ty.as_bytes()[0] {
                    b'u' => (
                        unsigned.clone(),
                        C_VALUES.iter().map(|v| v.abs()).collect(),
                        F_VALUES.iter().map(|v| v.abs()).collect(),
                    ),
                    b'b' => (
                        bools.clone(),
                        C_VALUES.iter().map(|&v| f64::from(v > 0.0)).collect(),
                        F_VALUES.iter().map(|&v| f64::from(v > 0.0)).collect(),
                    ),
                    _ => (signed.clone(), C_VALUES.to_vec(), F_VALUES.to_vec()),
                };
                for version in [1, 2, 3] {
                    let bytes = npy_bytes(&descr, false, &[3, 2], &encode(&descr, &c), version);
                    assert_eq!(read(&bytes).unwrap(), want, "{descr} C v{version}");
                    assert_eq!(read_stream(&bytes).unwrap(), want, "{descr} C v{version}");
                    let bytes = npy_bytes(&descr, true, &[3, 2], &encode(&descr, &f), version);
                    let got = read(&bytes).unwrap();
                    assert_eq!(got, want, "{descr} F v{version}");
                    assert!(got.is_standard_layout());
                }
            }
        }
    }

    #[test]
    fn wide_integers_and_floats_keep_their_values() {
        let big = [(1u64 << 40) as f64, -(1i64 << 50) as f64, 0.1, 1e300];
        let b = npy_bytes("<f8", false, &[4], &encode("<f8", &big), 1);
        assert_eq!(read(&b).unwrap().column(0).to_vec(), big.to_vec());
        let b = npy_bytes(">f4", false, &[2], &encode(">f4", &[0.1, -3.5]), 1);
        assert_eq!(
            read(&b).unwrap().column(0).to_vec(),
            vec![0.1f32 as f64, -3.5]
        );
        let b = npy_bytes("<u8", false, &[1], &u64::MAX.to_le_bytes(), 1);
        assert_eq!(read(&b).unwrap()[[0, 0]], u64::MAX as f64);
        let b = npy_bytes("<i8", false, &[1], &i64::MIN.to_le_bytes(), 1);
        assert_eq!(read(&b).unwrap()[[0, 0]], i64::MIN as f64);
    }

    #[test]
    fn half_floats() {
        // 1.0, -2.0, 0.5, 65504 (max), 2^-24 (smallest subnormal), inf
        let bits: [u16; 6] = [0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00];
        let data: Vec<u8> = bits.iter().flat_map(|b| b.to_le_bytes()).collect();
        let got = read(&npy_bytes("<f2", false, &[6], &data, 1)).unwrap();
        assert_eq!(
            got.column(0).to_vec(),
            vec![1.0, -2.0, 0.5, 65504.0, 2f64.powi(-24), f64::INFINITY]
        );
        let data: Vec<u8> = bits.iter().flat_map(|b| b.to_be_bytes()).collect();
        let got = read(&npy_bytes(">f2", false, &[6], &data, 1)).unwrap();
        assert_eq!(got[[3, 0]], 65504.0);
        assert!(f16_to_f64(0x7e00).is_nan());
    }

    #[test]
    fn one_dimensional_is_one_column() {
        let b = npy_bytes("<i4", false, &[3], &encode("<i4", &[7.0, 8.0, 9.0]), 1);
        assert_eq!(read(&b).unwrap(), array![[7.0], [8.0], [9.0]]);
        let b = npy_bytes("<i4", true, &[3], &encode("<i4", &[7.0, 8.0, 9.0]), 1);
        assert_eq!(read(&b).unwrap(), array![[7.0], [8.0], [9.0]]);
    }

    #[test]
    fn empty_arrays_read_as_empty() {
        let b = npy_bytes("<f8", false, &[0, 3], &[], 1);
        assert_eq!(read(&b).unwrap().dim(), (0, 3));
        let b = npy_bytes("<f8", false, &[0], &[], 1);
        assert_eq!(read_stream(&b).unwrap().dim(), (0, 1));
    }

    #[test]
    fn wrong_dimensions() {
        let b = npy_bytes("<f8", false, &[2, 2, 2], &encode("<f8", &[0.0; 8]), 1);
        assert_eq!(
            err(&b),
            "t.npy: array of shape (2, 2, 2) has 3 dimensions; expected 1 (one column) or 2 (rows × columns)"
        );
        let b = npy_bytes("<f8", false, &[], &encode("<f8", &[1.0]), 1);
        assert!(err(&b).contains("shape () has 0 dimensions"));
    }

    #[test]
    fn bad_magic_version_and_header() {
        assert_eq!(
            err(b"\x93NUMPZ\x01\x00"),
            "t.npy: not an NPY file (it does not start with \\x93NUMPY)"
        );
        assert!(err(b"a,b\n1,2\n").contains("not an NPY file"));
        assert!(err(b"").contains("not an NPY file"));
        assert!(err(b"\x93NUMPY\x01").contains("truncated NPY file (it ends inside the header)"));
        assert!(err(b"\x93NUMPY\x01\x00\x50").contains("ends inside the header"));
        assert!(err(b"\x93NUMPY\x01\x00\x50\x00{'descr'").contains("ends inside the header"));
        let mut b = npy_bytes("<f8", false, &[1], &encode("<f8", &[1.0]), 1);
        b[6] = 4;
        assert_eq!(
            err(&b),
            "t.npy: unsupported NPY format version 4.0 (supported: 1.0, 2.0, 3.0)"
        );
        let mut b = b"\x93NUMPY\x02\x00".to_vec();
        b.extend(u32::MAX.to_le_bytes());
        assert!(err(&b).contains("header of 4294967295 bytes is too long"));
        for (dict, want) in [
            ("{'descr': '<f8', 'shape': (1,), }", "no 'fortran_order' key"),
            ("{'fortran_order': False, 'shape': (1,), }", "no 'descr' key"),
            ("{'descr': '<f8', 'fortran_order': False, }", "no 'shape' key"),
            ("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }", "'fortran_order' is not"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", "unexpected '-'"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': ('a',), }", "other than integers"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (1,) ", "expected ',' or '}'"),
            ("{'descr': '<f8, 'fortran_order': False}", "expected ',' or '}' at byte 17"),
            ("{'descr' '<f8'}", "expected ':'"),
            ("['descr']", "not a dict"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} x", "after the header dict"),
            ("{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,)}", "unexpected word 'Maybe'"),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999999999999999999999,)}",
                "number too large",
            ),
        ] {
            let mut b = b"\x93NUMPY\x01\x00".to_vec();
            b.extend((dict.len() as u16).to_le_bytes());
            b.extend(dict.as_bytes());
            b.extend([0u8; 8]);
            let e = err(&b);
            assert!(e.contains("corrupt NPY header") && e.contains(want), "{dict}: {e}");
        }
        // Python 2 longs and double quotes are fine.
        let dict = "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (1L, 2L)}";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((dict.len() as u16).to_le_bytes());
        b.extend(dict.as_bytes());
        b.extend(encode("<f8", &[1.0, 2.0]));
        assert_eq!(read(&b).unwrap(), array![[1.0, 2.0]]);
    }

    #[test]
    fn unsupported_dtypes() {
        for (descr, why) in [
            ("|O", "object arrays"),
            ("<U5", "strings"),
            ("|S3", "strings"),
            ("<c16", "complex"),
            ("<M8[ns]", "dates"),
            ("|V8", "raw bytes"),
            ("<f16", "expected booleans, integers or floats"),
        ] {
            let b = npy_bytes(descr, false, &[1], &[0u8; 16], 1);
            let e = err(&b);
            assert!(
                e.contains(&format!("unsupported dtype '{descr}'")) && e.contains(why),
                "{e}"
            );
        }
        let dict =
            "{'descr': [('a', '<f8'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((dict.len() as u16).to_le_bytes());
        b.extend(dict.as_bytes());
        b.extend([0u8; 12]);
        assert!(err(&b).contains("structured arrays"));
    }

    #[test]
    fn truncated_and_overlong_data() {
        let full = npy_bytes("<f8", false, &[3, 2], &encode("<f8", &C_VALUES), 1);
        let cut = &full[..full.len() - 5];
        let e = err(cut);
        assert_eq!(
            e,
            "t.npy: truncated NPY file: header says shape (3, 2) of <f8 (48 bytes of data) but only 43 bytes follow the header"
        );
        assert_eq!(read_stream(cut).unwrap_err().to_string(), e);
        let mut long = full.clone();
        long.extend([0u8; 3]);
        assert!(err(&long).contains("corrupt NPY file"), "{}", err(&long));
        assert!(read_stream(&long)
            .unwrap_err()
            .to_string()
            .contains("but more bytes follow"));
    }

    #[test]
    fn lying_header_does_not_allocate_its_shape() {
        // 10^12 × 10^3 doubles = 8 PB claimed, 16 bytes present.
        let b = npy_bytes("<f8", false, &[1_000_000_000_000, 1000], &[0u8; 16], 1);
        let e = err(&b);
        assert!(
            e.contains("truncated NPY file") && e.contains("only 16 bytes"),
            "{e}"
        );
        // Product overflows usize.
        let b = npy_bytes("<f8", false, &[usize::MAX, 3], &[], 1);
        assert!(err(&b).contains("is too large"));
        let b = npy_bytes("<f8", false, &[usize::MAX / 4, 2], &[], 1);
        assert!(err(&b).contains("truncated") || err(&b).contains("too large"));
    }

    #[test]
    fn dtype_parse() {
        assert_eq!(
            Dtype::parse("<f8").unwrap(),
            Dtype {
                kind: Kind::F64,
                big_endian: false
            }
        );
        assert_eq!(
            Dtype::parse(">u2").unwrap(),
            Dtype {
                kind: Kind::U16,
                big_endian: true
            }
        );
        assert_eq!(Dtype::parse("|b1").unwrap().kind, Kind::Bool);
        assert_eq!(Dtype::parse("<f8").unwrap().size(), 8);
        assert_eq!(Dtype::parse("|u1").unwrap().size(), 1);
    }
}
