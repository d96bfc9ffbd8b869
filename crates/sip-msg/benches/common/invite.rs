/// A typical 1 KB carrier INVITE: two Vias, Record-Route, P-Asserted-Identity, session timer, SDP.
pub const INVITE: &[u8] =
    b"INVITE sip:+442071234567@vendor1.example.net:5060;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK-524287-1---a5e3b1c8d9f20710;rport\r\n\
Via: SIP/2.0/UDP 203.0.113.7:5060;received=203.0.113.7;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 69\r\n\
Record-Route: <sip:198.51.100.10:5060;lr>\r\n\
Contact: <sip:+15551230000@203.0.113.7:5060;transport=udp>\r\n\
To: <sip:+442071234567@vendor1.example.net>\r\n\
From: \"Caller Name\" <sip:+15551230000@customer.example.com>;tag=6f3c2a1b\r\n\
Call-ID: 9b2f0c3e7d5a4e1f8a6b@203.0.113.7\r\n\
CSeq: 102 INVITE\r\n\
P-Asserted-Identity: <sip:+15551230000@customer.example.com>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, UPDATE\r\n\
Supported: replaces, timer\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Min-SE: 90\r\n\
User-Agent: CarrierSBC 4.2\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 240\r\n\
\r\n\
v=0\r\n\
o=- 3712345678 3712345678 IN IP4 203.0.113.7\r\n\
s=-\r\n\
c=IN IP4 203.0.113.7\r\n\
t=0 0\r\n\
m=audio 16384 RTP/AVP 8 0 18 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendrecv\r\n\
a=ptime:20\r\n\
a=xx:123456789\r\n";
