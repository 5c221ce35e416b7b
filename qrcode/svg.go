// Package qrcode draws QR codes as SVG, for the otpauth:// URI of a TOTP
// enrolment (TotpEnrollment.qrCodeSvg). It imports the standard library
// and the QR encoder github.com/boombuler/barcode, nothing of keycard.
//
// boombuler/barcode is the encoder because github.com/pquerna/otp, which
// keycard uses for TOTP, depends on it already (no further module in the
// build), it is MIT-licensed and maintained (v1.1.0, 2025), and it keeps
// no global state. github.com/yeqown/go-qrcode/v2 was passed over: with
// QRCODE_DEBUG set in the environment it logs the encoded data stream,
// i.e. the TOTP secret, and writes images of it to ./draft/.
// github.com/skip2/go-qrcode has seen no release since 2020.
//
// The SVG is text that frontends put into the DOM, so it holds nothing but
// numbers: no text element, title or link, and never the content.
package qrcode

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// MaxContentBytes is the most a code of level M in byte mode holds
// (version 40).
const MaxContentBytes = 2331

const (
	// quietZone is the light margin, in modules, that ISO/IEC 18004
	// requires around the symbol for scanners to find it.
	quietZone = 4
	// pixelsPerModule sets the SVG's default size; a stylesheet may scale
	// it, the drawing is vector.
	pixelsPerModule = 6
)

// SVG draws content as a QR code: error correction level M (15 %, which
// survives a glare on a screen), byte mode, a quiet zone of 4 modules,
// dark modules as one path in runs per row. content must be ASCII, as a
// URI is (percent-encoded): byte mode without an ECI header leaves other
// bytes to each scanner's guess. Errors never contain the content.
func SVG(content string) (string, error) {
	if content == "" {
		return "", errors.New("qrcode: nothing to encode")
	}
	if len(content) > MaxContentBytes {
		return "", fmt.Errorf("qrcode: content is %d bytes, a QR code holds at most %d", len(content), MaxContentBytes)
	}
	for i := 0; i < len(content); i++ {
		if content[i] >= 0x80 {
			return "", errors.New("qrcode: content must be ASCII (percent-encode it, as in a URI)")
		}
	}
	// qr.Unicode is plain byte mode. qr.Auto is not used: its error for an
	// oversized input quotes the input, which here is a TOTP secret.
	code, err := qr.Encode(content, qr.M, qr.Unicode)
	if err != nil {
		return "", errors.New("qrcode: content does not fit a QR code")
	}
	bounds := code.Bounds()
	modules := bounds.Dx()
	dark := func(x, y int) bool {
		r, _, _, _ := code.At(bounds.Min.X+x, bounds.Min.Y+y).RGBA()
		return r < 0x8000
	}

	side := modules + 2*quietZone
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges">`,
		side, side, side*pixelsPerModule, side*pixelsPerModule)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, side, side)
	for y := range modules {
		for x := 0; x < modules; {
			if !dark(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < modules && dark(x+run, y) {
				run++
			}
			// A run of dark modules: a 1-high rectangle from (x, y).
			b.WriteString("M" + strconv.Itoa(x+quietZone) + " " + strconv.Itoa(y+quietZone) +
				"h" + strconv.Itoa(run) + "v1h-" + strconv.Itoa(run) + "z")
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}
