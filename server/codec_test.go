package server

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/model"
)

func TestEntry_CreateSessionCarriesItsPassword(t *testing.T) {
	txn := model.CreateSessionTxn{TimeoutMs: 4000, Passwd: DerivedPasswd(42)}
	h, got, err := decodeEntry(encodeEntry(entryHeader{Session: 42, Cxid: 0, TimeMs: 9}, txn))
	require.NoError(t, err)
	assert.Equal(t, entryHeader{Session: 42, TimeMs: 9}, h)
	assert.Equal(t, txn, got)
}

// An entry written before passwords were replicated (txn type 6) still
// decodes, with a zero password that no client can show.
func TestEntry_TheFirstCreateSessionLayoutStillDecodes(t *testing.T) {
	b := []byte{codecVersion}
	b = binary.BigEndian.AppendUint64(b, 42)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint64(b, 9)
	b = binary.BigEndian.AppendUint32(b, 6)
	b = binary.BigEndian.AppendUint32(b, 4000)
	_, got, err := decodeEntry(b)
	require.NoError(t, err)
	assert.Equal(t, model.CreateSessionTxn{TimeoutMs: 4000}, got)
}
