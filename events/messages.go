package events

// The messages a user sends to an official account.

// TextMessage is a text a user sent.
type TextMessage struct {
	Message
	Content string `xml:"Content" json:"Content"`
}

// Kind implements Event.
func (*TextMessage) Kind() string { return "text" }

func (m *TextMessage) setField(name string, v value) (bool, error) {
	if name == "Content" {
		var err error
		m.Content, err = v.str()
		return true, err
	}
	return m.Message.setField(name, v)
}

// media is the body shared by messages that carry a media id.
type media struct {
	Message
	// MediaId fetches the media through the temporary-material API.
	MediaId string `xml:"MediaId" json:"MediaId" validate:"required"`
}

func (m *media) setField(name string, v value) (bool, error) {
	if name == "MediaId" {
		var err error
		m.MediaId, err = v.str()
		return true, err
	}
	return m.Message.setField(name, v)
}

// ImageMessage is a picture a user sent.
type ImageMessage struct {
	media
	PicUrl string `xml:"PicUrl" json:"PicUrl"`
}

// Kind implements Event.
func (*ImageMessage) Kind() string { return "image" }

func (m *ImageMessage) setField(name string, v value) (bool, error) {
	if name == "PicUrl" {
		var err error
		m.PicUrl, err = v.str()
		return true, err
	}
	return m.media.setField(name, v)
}

// VoiceMessage is a voice clip a user sent.
type VoiceMessage struct {
	media
	// Format is the codec: amr, speex, ….
	Format string `xml:"Format" json:"Format"`
	// Recognition is WeChat's transcript, when recognition is on.
	Recognition string `xml:"Recognition,omitempty" json:"Recognition,omitempty"`
}

// Kind implements Event.
func (*VoiceMessage) Kind() string { return "voice" }

func (m *VoiceMessage) setField(name string, v value) (bool, error) {
	var err error
	switch name {
	case "Format":
		m.Format, err = v.str()
	case "Recognition":
		m.Recognition, err = v.str()
	default:
		return m.media.setField(name, v)
	}
	return true, err
}

// video is the body shared by video and short-video messages.
type video struct {
	media
	ThumbMediaId string `xml:"ThumbMediaId" json:"ThumbMediaId"`
}

func (m *video) setField(name string, v value) (bool, error) {
	if name == "ThumbMediaId" {
		var err error
		m.ThumbMediaId, err = v.str()
		return true, err
	}
	return m.media.setField(name, v)
}

// VideoMessage is a video a user sent.
type VideoMessage struct{ video }

// Kind implements Event.
func (*VideoMessage) Kind() string { return "video" }

// ShortVideoMessage is a short video a user sent.
type ShortVideoMessage struct{ video }

// Kind implements Event.
func (*ShortVideoMessage) Kind() string { return "shortvideo" }

// LocationMessage is a place a user sent.
type LocationMessage struct {
	Message
	LocationX float64 `xml:"Location_X" json:"Location_X"`
	LocationY float64 `xml:"Location_Y" json:"Location_Y"`
	Scale     int64   `xml:"Scale" json:"Scale"`
	Label     string  `xml:"Label" json:"Label"`
}

// Kind implements Event.
func (*LocationMessage) Kind() string { return "location" }

func (m *LocationMessage) setField(name string, v value) (bool, error) {
	var err error
	switch name {
	case "Location_X":
		m.LocationX, err = v.float64()
	case "Location_Y":
		m.LocationY, err = v.float64()
	case "Scale":
		m.Scale, err = v.int64()
	case "Label":
		m.Label, err = v.str()
	default:
		return m.Message.setField(name, v)
	}
	return true, err
}

// LinkMessage is a link a user shared.
type LinkMessage struct {
	Message
	Title       string `xml:"Title" json:"Title"`
	Description string `xml:"Description" json:"Description"`
	Url         string `xml:"Url" json:"Url"`
	// PicUrl is the link's picture; WeCom sends it, official accounts
	// do not.
	PicUrl string `xml:"PicUrl,omitempty" json:"PicUrl,omitempty"`
}

// Kind implements Event.
func (*LinkMessage) Kind() string { return "link" }

func (m *LinkMessage) setField(name string, v value) (bool, error) {
	var err error
	switch name {
	case "Title":
		m.Title, err = v.str()
	case "Description":
		m.Description, err = v.str()
	case "Url":
		m.Url, err = v.str()
	case "PicUrl":
		m.PicUrl, err = v.str()
	default:
		return m.Message.setField(name, v)
	}
	return true, err
}
