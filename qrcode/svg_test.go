package qrcode

import (
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/boombuler/barcode/qr"
	"github.com/makiuchi-d/gozxing"
	zxingqr "github.com/makiuchi-d/gozxing/qrcode"
)

// The SVG is rasterised here and read back with gozxing, a port of the
// ZXing decoder that phone scanners descend from: a code that decodes
// there is a code an authenticator app can scan.

type svgDoc struct {
	XMLName        xml.Name `xml:"http://www.w3.org/2000/svg svg"`
	ViewBox        string   `xml:"viewBox,attr"`
	Width          int      `xml:"width,attr"`
	Height         int      `xml:"height,attr"`
	ShapeRendering string   `xml:"shape-rendering,attr"`
	Rect           struct {
		Width  int    `xml:"width,attr"`
		Height int    `xml:"height,attr"`
		Fill   string `xml:"fill,attr"`
	} `xml:"rect"`
	Path struct {
		Fill string `xml:"fill,attr"`
		D    string `xml:"d,attr"`
	} `xml:"path"`
	Other []xml.Name `xml:",any"`
}

// rasterize parses svg strictly (one white rect, one black path of
// axis-aligned rectangles "Mx yhWvHh-Wz") and paints it at scale pixels per
// unit. It returns the image and the side in modules.
func rasterize(t *testing.T, svg string, scale int) (*image.Gray, int) {
	t.Helper()
	var doc svgDoc
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	var side int
	if _, err := fmt.Sscanf(doc.ViewBox, "0 0 %d %d", &side, &side); err != nil {
		t.Fatalf("viewBox %q", doc.ViewBox)
	}
	if len(doc.Other) > 0 || doc.Rect.Fill != "#fff" || doc.Path.Fill != "#000" || doc.Rect.Width != side || doc.Rect.Height != side {
		t.Fatalf("unexpected SVG structure: %+v", doc)
	}
	if doc.Width != doc.Height || doc.Width < side || doc.ShapeRendering != "crispEdges" {
		t.Fatalf("size %dx%d for %d modules", doc.Width, doc.Height, side)
	}
	img := image.NewGray(image.Rect(0, 0, side*scale, side*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for _, sub := range strings.SplitAfter(doc.Path.D, "z") {
		if sub == "" {
			continue
		}
		var x, y, w, h, back int
		if _, err := fmt.Sscanf(sub, "M%d %dh%dv%dh%dz", &x, &y, &w, &h, &back); err != nil || back != -w || w <= 0 || h != 1 {
			t.Fatalf("subpath %q is not a run of modules", sub)
		}
		if x < 0 || y < 0 || x+w > side || y+h > side {
			t.Fatalf("subpath %q outside the viewBox", sub)
		}
		for py := y * scale; py < (y+h)*scale; py++ {
			for px := x * scale; px < (x+w)*scale; px++ {
				img.SetGray(px, py, color.Gray{0})
			}
		}
	}
	return img, side
}

func decode(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	result, err := zxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("the drawn code does not decode: %v", err)
	}
	return result.GetText()
}

func otpauthURI(username string) string {
	v := url.Values{}
	v.Set("secret", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
	v.Set("issuer", "keycard")
	v.Set("algorithm", "SHA1")
	v.Set("digits", "6")
	v.Set("period", "30")
	return "otpauth://totp/" + url.PathEscape("keycard:"+username) + "?" + v.Encode()
}

func TestSVGOfAnOtpauthURIDecodesBack(t *testing.T) {
	for name, uri := range map[string]string{
		"short username": otpauthURI("al"),
		// The longest username keycard allows (32), with every
		// character escaped, and a 32-character secret.
		"longest username": otpauthURI(strings.Repeat("é", 16)),
	} {
		t.Run(name, func(t *testing.T) {
			svg, err := SVG(uri)
			if err != nil {
				t.Fatal(err)
			}
			img, side := rasterize(t, svg, 4)
			if got := decode(t, img); got != uri {
				t.Fatalf("decoded %q, want %q", got, uri)
			}
			// An otpauth URI must stay small enough to scan off a phone
			// screen: version 10 (57 modules) at most.
			if modules := side - 2*quietZone; modules > 57 {
				t.Errorf("%d bytes need %d modules", len(uri), modules)
			}
			if strings.Contains(svg, "JBSWY3DP") || strings.Contains(svg, "otpauth") {
				t.Fatal("the SVG carries the content as text")
			}
		})
	}
}

// Every module drawn is the encoder's: the SVG is the matrix, shifted by
// the quiet zone, and the quiet zone is light.
func TestSVGModulesMatchTheEncoderMatrix(t *testing.T) {
	uri := otpauthURI("alice")
	svg, err := SVG(uri)
	if err != nil {
		t.Fatal(err)
	}
	img, side := rasterize(t, svg, 1)
	code, err := qr.Encode(uri, qr.M, qr.Unicode)
	if err != nil {
		t.Fatal(err)
	}
	modules := code.Bounds().Dx()
	if side != modules+2*quietZone {
		t.Fatalf("side %d for %d modules", side, modules)
	}
	for y := range side {
		for x := range side {
			want := false
			if mx, my := x-quietZone, y-quietZone; mx >= 0 && my >= 0 && mx < modules && my < modules {
				r, _, _, _ := code.At(mx, my).RGBA()
				want = r < 0x8000
			}
			if got := img.GrayAt(x, y).Y == 0; got != want {
				t.Fatalf("module (%d, %d): dark=%v, want %v", x, y, got, want)
			}
		}
	}
}

// Random ASCII contents of every length class decode back: the encoder
// and the drawing hold for each version, not just the one of a URI.
func TestSVGDecodesAcrossVersions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lengths := []int{1, 14, 15, 60, 61, 200, 500, 1000}
	if !testing.Short() {
		lengths = append(lengths, 1500, MaxContentBytes)
	}
	for _, n := range lengths {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			content := make([]byte, n)
			for i := range content {
				content[i] = byte(0x20 + rng.IntN(0x7f-0x20))
			}
			svg, err := SVG(string(content))
			if err != nil {
				t.Fatal(err)
			}
			img, _ := rasterize(t, svg, 3)
			if got := decode(t, img); got != string(content) {
				t.Fatalf("decoded another text")
			}
		})
	}
}

func TestSVGRefusesWhatItCannotEncode(t *testing.T) {
	secret := "JBSWY3DPEHPK3PXP"
	for name, tc := range map[string]struct{ content, want string }{
		"empty":     {"", "nothing to encode"},
		"too long":  {strings.Repeat(secret, MaxContentBytes/len(secret)+1), "at most 2331"},
		"non-ASCII": {"otpauth://totp/keycard:" + secret + "é", "must be ASCII"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := SVG(tc.content)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q contains the content", err)
			}
		})
	}
}
