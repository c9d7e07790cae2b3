package mysqlconn

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// Decoder turns a column's stored bytes into UTF-8 exactly as the server converts them
// (CONVERT(col USING utf8mb4)), so that a value reads the same from the binlog (raw bytes)
// as from a snapshot, and the same as the server itself would give it. A nil Decoder means
// the bytes are UTF-8 already. Decoders are safe for concurrent use.
type Decoder interface {
	Decode(b []byte) ([]byte, error)
}

// CharsetDecoder returns the decoder of a MySQL / MariaDB character set by its name ("",
// utf8, utf8mb3, utf8mb4, ascii and binary need none), or an error naming the set.
func CharsetDecoder(cs string) (Decoder, error) {
	cs = strings.ToLower(strings.TrimSpace(cs))
	switch cs {
	case "", "utf8", "utf8mb3", "utf8mb4", "ascii", "binary":
		return nil, nil
	}
	if t, ok := singleByteTables[cs]; ok {
		return (*byteTable)(t), nil
	}
	if m, ok := multiByteSets[cs]; ok {
		return multiByte{m, multiByteOverrides[cs]}, nil
	}
	return nil, fmt.Errorf("character set %s is not supported; convert the column to utf8mb4, or exclude the table", cs)
}

// SupportedCharsets lists every set CharsetDecoder knows.
func SupportedCharsets() []string {
	out := []string{"utf8mb4", "utf8mb3", "ascii", "binary"}
	out = append(out, singleByteSets...)
	for cs := range multiByteSets {
		out = append(out, cs)
	}
	slices.Sort(out)
	return out
}

// singleByteSets are the 8-bit sets; each decodes by a table of the server's own
// conversions (tables.go). Those differ from the code pages of the same names elsewhere:
// MySQL's latin1 is cp1252 with the five bytes cp1252 leaves undefined mapped to the C1
// controls of the same number, its latin2 and greek are older editions, and so on.
var singleByteSets = []string{"latin1", "latin2", "latin5", "latin7", "cp1250", "cp1251", "cp1256",
	"cp1257", "cp850", "cp852", "cp866", "greek", "hebrew", "koi8r", "koi8u", "macroman", "tis620"}

// byteTable decodes an 8-bit set by a table of 256 characters.
type byteTable [256]rune

func (t *byteTable) Decode(b []byte) ([]byte, error) {
	i := 0
	for i < len(b) && b[i] < 0x80 && t[b[i]] == rune(b[i]) {
		i++
	}
	if i == len(b) {
		return b, nil
	}
	out := make([]byte, i, len(b)+len(b)/2+4)
	copy(out, b[:i])
	for _, c := range b[i:] {
		out = utf8.AppendRune(out, t[c])
	}
	return out, nil
}

// multiByteSet is a multi-byte set decoded by x/text. width, where set, says how many bytes
// the character at the start of b takes, so that the characters on which x/text differs
// from the server (multiByteOverrides) can be found; a set without width has none.
type multiByteSet struct {
	enc   encoding.Encoding
	width func(b []byte) int
}

// twoByte: a lead byte in [lo, hi] starts a two-byte character (GBK, Big5, EUC-KR).
func twoByte(lo, hi byte) func([]byte) int {
	return func(b []byte) int {
		if b[0] >= lo && b[0] <= hi {
			return 2
		}
		return 1
	}
}

// shiftJIS: 0x81–0x9F and 0xE0–0xFC lead two bytes; 0xA1–0xDF are half-width katakana.
func shiftJIS(b []byte) int {
	if (b[0] >= 0x81 && b[0] <= 0x9F) || (b[0] >= 0xE0 && b[0] <= 0xFC) {
		return 2
	}
	return 1
}

// eucJP: 0x8E leads two bytes (half-width katakana), 0x8F three (JIS X 0212), 0xA1–0xFE two.
func eucJP(b []byte) int {
	switch {
	case b[0] == 0x8F:
		return 3
	case b[0] == 0x8E, b[0] >= 0xA1 && b[0] <= 0xFE:
		return 2
	}
	return 1
}

var multiByteSets = map[string]multiByteSet{
	"gbk":     {simplifiedchinese.GBK, twoByte(0x81, 0xFE)},
	"gb2312":  {simplifiedchinese.GBK, twoByte(0x81, 0xFE)}, // EUC-CN, a subset of GBK
	"big5":    {traditionalchinese.Big5, twoByte(0x81, 0xFE)},
	"sjis":    {japanese.ShiftJIS, shiftJIS},
	"cp932":   {japanese.ShiftJIS, shiftJIS},
	"ujis":    {japanese.EUCJP, eucJP},
	"eucjpms": {japanese.EUCJP, eucJP},
	"euckr":   {korean.EUCKR, twoByte(0x81, 0xFE)},
	"gb18030": {simplifiedchinese.GB18030, nil},
	"ucs2":    {unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), nil},
	"utf16":   {unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), nil},
	"utf16le": {unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), nil},
	"utf32":   {utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM), nil},
}

// multiByte decodes through x/text (a fresh decoder per call: some keep state), except
// for the characters in over, which it takes from there.
type multiByte struct {
	set  multiByteSet
	over map[string]rune
}

func (m multiByte) Decode(b []byte) ([]byte, error) {
	if len(m.over) == 0 {
		return m.set.enc.NewDecoder().Bytes(b)
	}
	var out []byte
	from := 0 // start of the run not yet decoded
	flush := func(to int) error {
		if to > from {
			s, err := m.set.enc.NewDecoder().Bytes(b[from:to])
			if err != nil {
				return err
			}
			out = append(out, s...)
		}
		return nil
	}
	for i := 0; i < len(b); {
		n := min(m.set.width(b[i:]), len(b)-i)
		if r, ok := m.over[string(b[i:i+n])]; n > 1 && ok {
			if err := flush(i); err != nil {
				return nil, err
			}
			out = utf8.AppendRune(out, r)
			from = i + n
		}
		i += n
	}
	if from == 0 {
		return m.set.enc.NewDecoder().Bytes(b)
	}
	if err := flush(len(b)); err != nil {
		return nil, err
	}
	return out, nil
}

// ServerText selects a text column as the server's own conversion of it to utf8mb4, in
// hex: a read that depends neither on the connection's charset nor on weir's decoders
// (verify reads this way, so that it does not share the copier's blind spots).
// FromServerText turns such a value back into the text.
func ServerText(col string) string { return "HEX(CONVERT(" + col + " USING utf8mb4))" }

// FromServerText decodes a value selected by ServerText.
func FromServerText(h []byte) (string, error) {
	b := make([]byte, hex.DecodedLen(len(h)))
	if _, err := hex.Decode(b, h); err != nil {
		return "", fmt.Errorf("read text the server converted: %w", err)
	}
	return string(b), nil
}
