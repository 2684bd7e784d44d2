//go:build !unix

package real

func openFiles() (int, bool)   { return 0, false }
func maxFiles() (uint64, bool) { return 0, false }
