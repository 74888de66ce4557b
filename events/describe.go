package events

import "strconv"

// describer is implemented by the types whose Meta needs more than the
// header gives; Describe calls it last.
type describer interface {
	describe(m *Meta)
}

// describe sets MsgID to the mass send's id, as for TEMPLATESENDJOBFINISH.
func (j *MassSendJobFinish) describe(m *Meta) {
	if j.MsgID != 0 {
		m.MsgID = strconv.FormatInt(j.MsgID, 10)
	}
}
