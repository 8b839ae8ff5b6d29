//! The virtual card in a PC/SC reader: `vsmartcard-vpcd` adds a virtual reader to `pcscd` and
//! waits for a card on TCP (port 35963); connecting inserts the card, closing the connection
//! removes it. Each message is a 2-byte big-endian length and a payload: one byte is a control
//! message (`00` power off, `01` power on, `02` reset, `04` send the ATR), more is a command
//! APDU, answered with the response APDU (reference §6).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::apdu::Command;
use super::virtual_card::VirtualCard;

/// The contact ATR of a My Number card (T=1).
pub const ATR: [u8; 9] = [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14];

/// One framed message, or `None` when the peer closed the connection.
pub async fn read_frame(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    // vpcd writes the length and the payload apart: acknowledge at once, or its Nagle waits
    // for our delayed ACK before sending the payload (Linux resets the flag after use).
    #[cfg(target_os = "linux")]
    socket2::SockRef::from(&*stream).set_tcp_quickack(true)?;
    let mut length = [0u8; 2];
    match stream.read_exact(&mut length).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut payload = vec![0; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut payload).await?;
    Ok(Some(payload))
}

pub async fn write_frame(stream: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    let length = u16::try_from(payload.len())
        .map_err(|_| std::io::Error::other("a vpcd message is at most 65,535 bytes"))?;
    // One write for length and payload: two small writes meet Nagle's algorithm and the
    // peer's delayed ACK, and each APDU would wait some 40 ms.
    let mut frame = Vec::with_capacity(2 + payload.len());
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame).await?;
    stream.flush().await
}

/// Serves the card on a connection to vpcd until vpcd closes it; how many APDUs it answered.
pub async fn serve(card: &mut VirtualCard, mut stream: TcpStream) -> std::io::Result<usize> {
    stream.set_nodelay(true)?;
    let mut answered = 0;
    while let Some(message) = read_frame(&mut stream).await? {
        match message.as_slice() {
            [0x00] | [0x01] | [0x02] => card.reset(),
            [0x04] => write_frame(&mut stream, &ATR).await?,
            [_] => {}
            apdu => {
                let response = match Command::parse(apdu) {
                    Ok(command) => card.process(&command).to_bytes(),
                    // Wrong length.
                    Err(_) => vec![0x67, 0x00],
                };
                write_frame(&mut stream, &response).await?;
                answered += 1;
            }
        }
    }
    Ok(answered)
}
