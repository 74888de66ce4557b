package handlers

// SetHeldWriteHook sets the hook that the pool's writers call after each
// write of a held stream (see heldWriteHook); nil removes it. Set it while
// no stream is being written.
func SetHeldWriteHook(fn func(events int, whole bool)) { heldWriteHook = fn }
