package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// MasterKeySize is the length of the master key in bytes (AES-256).
const MasterKeySize = 32

// sealVersion is the first byte of every sealed value; it names the layout:
// version (1) | key id (4) | nonce (12) | AES-256-GCM ciphertext and tag.
const sealVersion = 1

const keyIDSize = 4

// ErrWrongMasterKey reports a sealed value that the master key cannot open:
// another key sealed it, or it was altered.
var ErrWrongMasterKey = errors.New("the master key does not open this value: wrong master key or damaged data")

// MasterKey is the key that seals identity secrets and session keys at rest.
// Like Secret, it prints only its id.
type MasterKey struct {
	// key sits behind a pointer so that fmt, printing a struct that holds a
	// MasterKey in an unexported field, shows an address, not the bytes.
	key *[MasterKeySize]byte
}

// NewMasterKey returns a random master key.
func NewMasterKey() MasterKey {
	k := MasterKey{key: new([MasterKeySize]byte)}
	rand.Read(k.key[:])
	return k
}

// ParseMasterKey reads a master key written as 64 hex digits or as base64
// (standard or URL alphabet, padded or not) of 32 bytes.
func ParseMasterKey(s string) (MasterKey, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	var err error
	if len(s) == 2*MasterKeySize {
		raw, err = hex.DecodeString(s)
	} else {
		raw, err = decodeBase64(s)
	}
	if err != nil || len(raw) != MasterKeySize {
		return MasterKey{}, errors.New("master key must be 32 bytes written as 64 hex digits or base64")
	}
	k := MasterKey{key: new([MasterKeySize]byte)}
	copy(k.key[:], raw)
	return k, nil
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// Encode writes the key as 64 hex digits, the form of the master.key file.
// The zero MasterKey encodes as "".
func (k MasterKey) Encode() string {
	if k.key == nil {
		return ""
	}
	return hex.EncodeToString(k.key[:])
}

// String never shows the key.
func (k MasterKey) String() string {
	if k.key == nil {
		return "master-key(none)"
	}
	return "master-key(" + hex.EncodeToString(k.id()) + ")"
}

// GoString keeps %#v from printing the key.
func (k MasterKey) GoString() string { return k.String() }

// LogValue keeps log/slog, whose JSON handler does not use String, from
// printing anything but the key's id.
func (k MasterKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// Format prints String for every verb, so no verb (%d, %#v, %t) formats the
// key's bytes by reflection.
func (k MasterKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// id names the key without revealing it, so a sealed value says which key
// sealed it and the master key can be rotated later.
func (k MasterKey) id() []byte {
	sum := sha256.Sum256(append([]byte("sendora master key id\x00"), k.key[:]...))
	return sum[:keyIDSize]
}

// Sealer encrypts small values (identity secrets, session keys) under the
// master key with AES-256-GCM. The caller's context string and owner id are
// bound as additional data, so a sealed value copied to another project or
// purpose does not open.
type Sealer struct {
	aead  cipher.AEAD
	keyID []byte
}

// NewSealer returns a Sealer for the master key. It panics on the zero
// MasterKey rather than seal under a key of zeros.
func NewSealer(k MasterKey) *Sealer {
	if k.key == nil {
		panic("identity: NewSealer with the zero MasterKey")
	}
	block, err := aes.NewCipher(k.key[:])
	if err != nil {
		panic(err) // unreachable: the key is always 32 bytes
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &Sealer{aead: aead, keyID: k.id()}
}

// KeyID returns the hex id of the master key, safe to show.
func (s *Sealer) KeyID() string { return hex.EncodeToString(s.keyID) }

func additionalData(purpose string, owner int64) []byte {
	ad := make([]byte, 0, len(purpose)+9)
	ad = append(ad, purpose...)
	ad = append(ad, 0)
	return binary.BigEndian.AppendUint64(ad, uint64(owner))
}

// Seal encrypts plaintext for (purpose, owner).
func (s *Sealer) Seal(purpose string, owner int64, plaintext []byte) []byte {
	out := make([]byte, 1+keyIDSize+s.aead.NonceSize(), 1+keyIDSize+s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	copy(out[1:], s.keyID)
	nonce := out[1+keyIDSize:]
	rand.Read(nonce)
	return s.aead.Seal(out, nonce, plaintext, additionalData(purpose, owner))
}

// Open decrypts a value sealed for (purpose, owner).
func (s *Sealer) Open(purpose string, owner int64, sealed []byte) ([]byte, error) {
	head := 1 + keyIDSize + s.aead.NonceSize()
	if len(sealed) < head+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, fmt.Errorf("identity: open sealed value: unknown format: %w", ErrWrongMasterKey)
	}
	if string(sealed[1:1+keyIDSize]) != string(s.keyID) {
		return nil, fmt.Errorf("identity: open sealed value: sealed by master key %x, have %x: %w",
			sealed[1:1+keyIDSize], s.keyID, ErrWrongMasterKey)
	}
	plain, err := s.aead.Open(nil, sealed[1+keyIDSize:head], sealed[head:], additionalData(purpose, owner))
	if err != nil {
		return nil, fmt.Errorf("identity: open sealed value: %w", ErrWrongMasterKey)
	}
	return plain, nil
}

const secretPurpose = "sendora/identity-secret/v1"

// SealSecret encrypts an identity secret for its project.
func (s *Sealer) SealSecret(projectID int64, secret Secret) []byte {
	return s.Seal(secretPurpose, projectID, []byte(secret.reveal()))
}

// OpenSecret decrypts an identity secret sealed for projectID.
func (s *Sealer) OpenSecret(projectID int64, sealed []byte) (Secret, error) {
	plain, err := s.Open(secretPurpose, projectID, sealed)
	if err != nil {
		return Secret{}, err
	}
	return secretOf(string(plain)), nil
}
