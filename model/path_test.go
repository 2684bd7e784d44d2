package model

import (
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidatePath_ZooKeeperRules(t *testing.T) {
	cases := []struct {
		path string
		ok   bool
		why  string
	}{
		{"/", true, "root"},
		{"/a", true, ""},
		{"/a/b/c", true, ""},
		{"/a.b", true, "dots inside a name"},
		{"/...", true, "three dots is a name"},
		{"/a/.b", true, ""},
		{"/a/b.", true, ""},
		{"/a/..b", true, ""},
		{"/ü/日本", true, "BMP letters"},
		{"/a b", true, "space is allowed"},
		{"/\u00a0", true, "just past the C1 block"},
		{"/\uf900", true, "just past the private use area"},
		{"/\uffef", true, "just before the specials"},
		{"", false, "empty"},
		{"a", false, "relative"},
		{"a/b", false, "relative"},
		{"/a/", false, "trailing slash"},
		{"//", false, "trailing slash"},
		{"/a//b", false, "empty component"},
		{"/.", false, "dot"},
		{"/a/.", false, "dot"},
		{"/a/./b", false, "dot"},
		{"/..", false, "dot dot"},
		{"/a/..", false, "dot dot"},
		{"/a/../b", false, "dot dot"},
		{"/a\x00b", false, "NUL"},
		{"/\x00", false, "NUL"},
		{"/a\x01", false, "control character"},
		{"/a\x1f", false, "control character"},
		{"/a\x7f", false, "DEL"},
		{"/a\u0080", false, "C1 control"},
		{"/a\u009f", false, "C1 control"},
		{"/a\ud7ff", true, "last before surrogates"},
		{"/a\ue000", false, "private use"},
		{"/a\uf8ff", false, "private use"},
		{"/a\ufff0", false, "specials"},
		{"/a\ufffd", false, "replacement character"},
		{"/a\uffff", false, "noncharacter"},
		{"/a\U0001F600", false, "outside the BMP: a surrogate pair in Java"},
		{"/a\xff", false, "malformed UTF-8"},
		{"/a\xc0\x80", false, "overlong NUL"},
		{"/a\xed\xa0\x80", false, "UTF-8-encoded surrogate"},
	}
	for _, c := range cases {
		err := ValidatePath(c.path)
		if c.ok {
			assert.NoError(t, err, "%q (%s)", c.path, c.why)
		} else {
			assert.ErrorIs(t, err, ErrBadArguments, "%q (%s)", c.path, c.why)
		}
		assert.Equal(t, c.ok, javaValidatePath(c.path), "reference disagrees on %q", c.path)
	}
}

func TestFormatSequence_IsJavaPercent010d(t *testing.T) {
	cases := map[int32]string{
		0:           "0000000000",
		7:           "0000000007",
		1234567890:  "1234567890",
		2147483647:  "2147483647",
		-5:          "-000000005",
		-2147483648: "-2147483648",
	}
	for n, want := range cases {
		assert.Equal(t, want, formatSequence(n), "%d", n)
	}
}

func TestParentPath_ZooKeeperSubstring(t *testing.T) {
	cases := []struct{ path, parent string }{
		{"/a", "/"}, {"/a/b", "/a"}, {"/a/", "/a"}, {"/", "/"}, {"a/b", "a"},
	}
	for _, c := range cases {
		p, ok := parentPath(c.path)
		assert.True(t, ok)
		assert.Equal(t, c.parent, p, c.path)
	}
	_, ok := parentPath("abc")
	assert.False(t, ok)
}

// javaValidatePath restates PathUtils.validatePath literally: the string is
// decoded to UTF-16 code units the way the server's jute reader does
// (malformed UTF-8 becomes U+FFFD) and the Java loop runs over them.
func javaValidatePath(s string) bool {
	chars := utf16.Encode([]rune(s))
	if len(chars) == 0 || chars[0] != '/' {
		return false
	}
	if len(chars) == 1 {
		return true
	}
	if chars[len(chars)-1] == '/' {
		return false
	}
	lastc := uint16('/')
	for i := 1; i < len(chars); lastc, i = chars[i], i+1 {
		c := chars[i]
		if c == 0 {
			return false
		} else if c == '/' && lastc == '/' {
			return false
		} else if c == '.' && lastc == '.' {
			if chars[i-2] == '/' && (i+1 == len(chars) || chars[i+1] == '/') {
				return false
			}
		} else if c == '.' {
			if chars[i-1] == '/' && (i+1 == len(chars) || chars[i+1] == '/') {
				return false
			}
		} else if c > 0 && c <= 0x1f || c >= 0x7f && c <= 0x9f || c >= 0xd800 && c <= 0xf8ff || c >= 0xfff0 {
			return false
		}
	}
	return true
}

func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{
		"/", "/a", "/a/b", "/a/", "//", "/.", "/..", "/...", "/a/./b", "/a\x00",
		"/\u0080", "/\ud7ff", "/\ue000", "/\U0001F600", "/\xff", "a", "", "/a..b/c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		err := ValidatePath(path)
		ok := err == nil
		require.Equal(t, javaValidatePath(path), ok, "%q", path)
		if !ok {
			require.ErrorIs(t, err, ErrBadArguments)
			return
		}
		if path == "/" {
			return
		}
		// An accepted path is "/" joined with non-empty, non-relative names,
		// and splitting it and joining it back gives it again.
		names := strings.Split(path[1:], "/")
		for _, n := range names {
			require.NotEmpty(t, n)
			require.NotEqual(t, ".", n)
			require.NotEqual(t, "..", n)
			require.NotContains(t, n, "\x00")
		}
		require.Equal(t, path, "/"+strings.Join(names, "/"))
		parent, hasParent := parentPath(path)
		require.True(t, hasParent)
		require.Equal(t, path, childPath(parent, baseName(path)))
		require.NoError(t, ValidatePath(parent))
	})
}
