//! A tiny DER reader and writer: just enough to turn a PKCS#8 key into cfssl's PKCS#1 / SEC1.

/// DER of the OID 1.2.840.113549.1.1.1 (rsaEncryption), tag and length included.
const OID_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
/// DER of the OID 1.2.840.10045.2.1 (id-ecPublicKey).
const OID_EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// A private key in the "traditional" format cfssl writes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Traditional {
    /// PKCS#1 `RSAPrivateKey`, PEM label `RSA PRIVATE KEY`.
    Rsa(Vec<u8>),
    /// SEC1 `ECPrivateKey` with the curve named, PEM label `EC PRIVATE KEY`.
    Ec(Vec<u8>),
}

/// One DER element split off its input: (tag, contents, the whole TLV, what follows).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// Splits one TLV off `input`.
fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, after_len) = after_tag.split_first()?;
    let (len, body) = if first < 0x80 {
        (usize::from(first), after_len)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || after_len.len() < n {
            return None;
        }
        let len = after_len[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &after_len[n..])
    };
    if body.len() < len {
        return None;
    }
    let header = input.len() - body.len();
    Some((tag, &body[..len], &input[..header + len], &body[len..]))
}

/// Encodes a TLV.
fn encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// Unwraps a PKCS#8 `PrivateKeyInfo` into PKCS#1 (RSA) or SEC1 (EC, with the curve's OID put
/// back into the `parameters` field, which Go's parser requires).
pub(crate) fn pkcs8_to_traditional(pkcs8: &[u8]) -> Option<Traditional> {
    let (0x30, info, _, _) = tlv(pkcs8)? else {
        return None;
    };
    let (0x02, _version, _, rest) = tlv(info)? else {
        return None;
    };
    let (0x30, alg, _, rest) = tlv(rest)? else {
        return None;
    };
    let (0x04, private, _, _) = tlv(rest)? else {
        return None;
    };
    let (0x06, _, oid, params) = tlv(alg)? else {
        return None;
    };
    if oid == OID_RSA {
        return Some(Traditional::Rsa(private.to_vec()));
    }
    if oid != OID_EC {
        return None;
    }
    let (0x06, _, curve, _) = tlv(params)? else {
        return None;
    };
    // ECPrivateKey ::= SEQUENCE { version, privateKey OCTET STRING, [0] params OPT, [1] pub OPT }
    let (0x30, ec, _, _) = tlv(private)? else {
        return None;
    };
    let (0x02, _, version, rest) = tlv(ec)? else {
        return None;
    };
    let (0x04, _, secret, rest) = tlv(rest)? else {
        return None;
    };
    let mut body = Vec::with_capacity(ec.len() + curve.len() + 2);
    body.extend_from_slice(version);
    body.extend_from_slice(secret);
    let rest = match tlv(rest) {
        Some((0xa0, _, _, _)) => rest,
        _ => {
            body.extend_from_slice(&encode(0xa0, curve));
            rest
        }
    };
    body.extend_from_slice(rest);
    Some(Traditional::Ec(encode(0x30, &body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 1000, 70000] {
            let data = vec![7u8; len];
            let enc = encode(0x04, &data);
            let (tag, body, whole, rest) = tlv(&enc).unwrap();
            assert_eq!(
                (tag, body.len(), whole.len(), rest.len()),
                (4, len, enc.len(), 0)
            );
        }
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(pkcs8_to_traditional(&[]), None);
        assert_eq!(pkcs8_to_traditional(&[0x30, 0x82, 0xff]), None);
        assert_eq!(pkcs8_to_traditional(&[0x30, 0x00]), None);
    }
}
