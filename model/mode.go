package model

import "strconv"

// CreateMode is the flags field of a create request, with ZooKeeper's wire
// values. The zero value is a plain persistent node.
type CreateMode int32

// ZooKeeper's create modes.
const (
	ModePersistent                  CreateMode = 0
	ModeEphemeral                   CreateMode = 1
	ModePersistentSequential        CreateMode = 2
	ModeEphemeralSequential         CreateMode = 3
	ModeContainer                   CreateMode = 4
	ModePersistentWithTTL           CreateMode = 5
	ModePersistentSequentialWithTTL CreateMode = 6
)

// MaxTTL is the largest TTL in milliseconds (EphemeralType.TTL.maxValue()):
// the TTL shares ephemeralOwner's 64 bits with an 8-bit marker and a 16-bit
// feature code, leaving 40 bits, about 34 years.
const MaxTTL int64 = 1<<40 - 1

// Valid reports whether m is one of ZooKeeper's modes (CreateMode.fromFlag).
func (m CreateMode) Valid() bool { return m >= ModePersistent && m <= ModePersistentSequentialWithTTL }

// IsSequential reports modes whose name gets the parent's counter appended.
func (m CreateMode) IsSequential() bool {
	return m == ModePersistentSequential || m == ModeEphemeralSequential || m == ModePersistentSequentialWithTTL
}

// IsEphemeral reports modes whose node dies with its session. Containers and
// TTL nodes are not ephemeral.
func (m CreateMode) IsEphemeral() bool { return m == ModeEphemeral || m == ModeEphemeralSequential }

// IsContainer reports the container mode.
func (m CreateMode) IsContainer() bool { return m == ModeContainer }

// IsTTL reports the modes that take a TTL.
func (m CreateMode) IsTTL() bool {
	return m == ModePersistentWithTTL || m == ModePersistentSequentialWithTTL
}

// String is the Java enum name.
func (m CreateMode) String() string {
	switch m {
	case ModePersistent:
		return "PERSISTENT"
	case ModeEphemeral:
		return "EPHEMERAL"
	case ModePersistentSequential:
		return "PERSISTENT_SEQUENTIAL"
	case ModeEphemeralSequential:
		return "EPHEMERAL_SEQUENTIAL"
	case ModeContainer:
		return "CONTAINER"
	case ModePersistentWithTTL:
		return "PERSISTENT_WITH_TTL"
	case ModePersistentSequentialWithTTL:
		return "PERSISTENT_SEQUENTIAL_WITH_TTL"
	}
	return "CreateMode(" + strconv.Itoa(int(m)) + ")"
}

// ValidateTTL is EphemeralType.validateTTL with its exact rule: a TTL mode
// needs 0 < ttl <= MaxTTL, and any other mode needs ttl < 0 (a createTTL
// request carrying a non-TTL mode and ttl >= 0 is refused). The error is
// ErrBadArguments, as PrepRequestProcessor reports it.
//
// Prepare is gentler with the zero value: a Create whose mode is not a TTL
// mode and whose TTL is 0 means "no TTL" and is accepted.
func ValidateTTL(mode CreateMode, ttl int64) error {
	if mode.IsTTL() {
		if ttl <= 0 || ttl > MaxTTL {
			return ErrBadArguments
		}
		return nil
	}
	if ttl >= 0 {
		return ErrBadArguments
	}
	return nil
}
