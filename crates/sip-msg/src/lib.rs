//! SIP message parse and print.
