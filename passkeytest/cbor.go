package passkeytest

import "encoding/binary"

// The few CBOR items (RFC 8949) an attestation object and a COSE key need,
// written by hand so that the encoding is not the verifying library's.
// Callers list map entries in CTAP2 canonical order (shorter keys first,
// then bytewise), which authenticators use.

const (
	cborUnsigned = 0 << 5
	cborNegative = 1 << 5
	cborBytes    = 2 << 5
	cborText     = 3 << 5
	cborMap      = 5 << 5
)

func cborHead(dst []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(dst, major|byte(n))
	case n <= 0xff:
		return append(dst, major|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, major|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(dst, major|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, major|27), n)
}

func cborInt(dst []byte, v int64) []byte {
	if v < 0 {
		return cborHead(dst, cborNegative, uint64(-1-v))
	}
	return cborHead(dst, cborUnsigned, uint64(v))
}

func cborByteString(dst, b []byte) []byte {
	return append(cborHead(dst, cborBytes, uint64(len(b))), b...)
}

func cborTextString(dst []byte, s string) []byte {
	return append(cborHead(dst, cborText, uint64(len(s))), s...)
}

// coseKeyES256 is the COSE_Key (RFC 9053) of a P-256 public key given as
// its uncompressed point 0x04 || x || y: kty EC2, alg ES256, crv P-256.
func coseKeyES256(point []byte) []byte {
	x, y := point[1:33], point[33:65]
	key := cborHead(nil, cborMap, 5)
	key = cborInt(key, 1) // kty
	key = cborInt(key, 2) // EC2
	key = cborInt(key, 3) // alg
	key = cborInt(key, -7)
	key = cborInt(key, -1) // crv
	key = cborInt(key, 1)  // P-256
	key = cborInt(key, -2) // x
	key = cborByteString(key, x)
	key = cborInt(key, -3) // y
	return cborByteString(key, y)
}

// attestationObjectNone is {"fmt": "none", "attStmt": {}, "authData": …}.
func attestationObjectNone(authData []byte) []byte {
	obj := cborHead(nil, cborMap, 3)
	obj = cborTextString(obj, "fmt")
	obj = cborTextString(obj, "none")
	obj = cborTextString(obj, "attStmt")
	obj = cborHead(obj, cborMap, 0)
	obj = cborTextString(obj, "authData")
	return cborByteString(obj, authData)
}
