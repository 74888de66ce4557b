package events

// The custom-menu events (a tap, a scan, a picture or a place picked from a menu).

// Click is pushed when a user taps a menu item of type click.
type Click struct{ Keyed }

// Kind implements Event.
func (*Click) Kind() string { return "event.CLICK" }

// View is pushed when a user taps a menu item that opens a URL (EventKey).
type View struct{ Keyed }

// Kind implements Event.
func (*View) Kind() string { return "event.VIEW" }

// ScanCodeInfo is what a menu scan produced.
type ScanCodeInfo struct {
	// ScanType is usually "qrcode".
	ScanType string `xml:"ScanType" json:"ScanType"`
	// ScanResult is the decoded content of the code.
	ScanResult string `xml:"ScanResult" json:"ScanResult"`
}

func (s *ScanCodeInfo) setField(name string, v value) (bool, error) {
	var err error
	switch name {
	case "ScanType":
		s.ScanType, err = v.str()
	case "ScanResult":
		s.ScanResult, err = v.str()
	default:
		return false, nil
	}
	return true, err
}

// scan is the body shared by the two scan-code menu events.
type scan struct {
	Keyed
	ScanCodeInfo ScanCodeInfo `xml:"ScanCodeInfo" json:"ScanCodeInfo"`
}

func (s *scan) setField(name string, v value) (bool, error) {
	if name == "ScanCodeInfo" {
		return true, nested(&s.Header, name, v, s.ScanCodeInfo.setField)
	}
	return s.Keyed.setField(name, v)
}

// ScanCodePush is pushed after a menu scan whose result WeChat shows itself.
type ScanCodePush struct{ scan }

// Kind implements Event.
func (*ScanCodePush) Kind() string { return "event.scancode_push" }

// ScanCodeWaitMsg is pushed after a menu scan that shows "receiving
// message" until the account replies.
type ScanCodeWaitMsg struct{ scan }

// Kind implements Event.
func (*ScanCodeWaitMsg) Kind() string { return "event.scancode_waitmsg" }

// Pic is one picture of SendPicsInfo.
type Pic struct {
	// PicMd5Sum is the picture's MD5.
	PicMd5Sum string `xml:"PicMd5Sum" json:"PicMd5Sum"`
}

// SendPicsInfo lists the pictures a user sent from a menu.
type SendPicsInfo struct {
	// Count is how many pictures were sent.
	Count int64 `xml:"Count" json:"Count"`
	// PicList holds every picture, each an <item> on the wire.
	PicList []Pic `xml:"PicList>item" json:"PicList"`
}

// set reads one member of SendPicsInfo; fields nobody declared, also
// inside PicList's items, are kept on h.
func (s *SendPicsInfo) set(h *Header, name string, v value) (bool, error) {
	var err error
	switch name {
	case "Count":
		s.Count, err = v.int64()
	case "PicList":
		err = v.items(func(item value) error {
			var p Pic
			err := nested(h, "SendPicsInfo.PicList.item", item, func(name string, f value) (bool, error) {
				if name != "PicMd5Sum" {
					return false, nil
				}
				var err error
				p.PicMd5Sum, err = f.str()
				return true, err
			})
			s.PicList = append(s.PicList, p)
			return err
		})
	default:
		return false, nil
	}
	return true, err
}

// pics is the body shared by the three picture menu events.
type pics struct {
	Keyed
	SendPicsInfo SendPicsInfo `xml:"SendPicsInfo" json:"SendPicsInfo"`
}

func (p *pics) setField(name string, v value) (bool, error) {
	if name == "SendPicsInfo" {
		return true, nested(&p.Header, name, v, func(n string, f value) (bool, error) {
			return p.SendPicsInfo.set(&p.Header, n, f)
		})
	}
	return p.Keyed.setField(name, v)
}

// PicSysPhoto is pushed when a menu opens the system camera.
type PicSysPhoto struct{ pics }

// Kind implements Event.
func (*PicSysPhoto) Kind() string { return "event.pic_sysphoto" }

// PicPhotoOrAlbum is pushed when a menu opens the camera or the album.
type PicPhotoOrAlbum struct{ pics }

// Kind implements Event.
func (*PicPhotoOrAlbum) Kind() string { return "event.pic_photo_or_album" }

// PicWeixin is pushed when a menu opens the WeChat album.
type PicWeixin struct{ pics }

// Kind implements Event.
func (*PicWeixin) Kind() string { return "event.pic_weixin" }

// SendLocationInfo is the place a user picked from a menu.
type SendLocationInfo struct {
	LocationX float64 `xml:"Location_X" json:"Location_X"`
	LocationY float64 `xml:"Location_Y" json:"Location_Y"`
	// Scale is the map's precision: the higher, the finer.
	Scale int64 `xml:"Scale" json:"Scale"`
	// Label describes the place in words.
	Label string `xml:"Label" json:"Label"`
	// Poiname is the point of interest's name; it may be empty.
	Poiname string `xml:"Poiname" json:"Poiname"`
}

func (s *SendLocationInfo) setField(name string, v value) (bool, error) {
	var err error
	switch name {
	case "Location_X":
		s.LocationX, err = v.float64()
	case "Location_Y":
		s.LocationY, err = v.float64()
	case "Scale":
		s.Scale, err = v.int64()
	case "Label":
		s.Label, err = v.str()
	case "Poiname":
		s.Poiname, err = v.str()
	default:
		return false, nil
	}
	return true, err
}

// LocationSelect is pushed when a user picks a place from a menu.
type LocationSelect struct {
	Keyed
	SendLocationInfo SendLocationInfo `xml:"SendLocationInfo" json:"SendLocationInfo"`
}

// Kind implements Event.
func (*LocationSelect) Kind() string { return "event.location_select" }

func (l *LocationSelect) setField(name string, v value) (bool, error) {
	if name == "SendLocationInfo" {
		return true, nested(&l.Header, name, v, l.SendLocationInfo.setField)
	}
	return l.Keyed.setField(name, v)
}
