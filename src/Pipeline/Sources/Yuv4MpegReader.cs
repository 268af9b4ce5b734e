using System.Globalization;
using System.Text;
using OpenCvSharp;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>
/// Reads the YUV4MPEG stream ffmpeg writes for <c>-pix_fmt yuv420p -f yuv4mpegpipe</c>: a header line giving the size,
/// then per frame a "FRAME" line and the Y, U and V planes, which OpenCV turns into BGR. ffmpeg writes the header with
/// the first decoded frame and keeps the size for the whole stream (it scales should the input's change).
/// </summary>
internal sealed class Yuv4MpegReader : IDisposable
{
    private readonly Stream _stream;
    private readonly string _name;
    private Mat? _yuv;

    /// <summary>Reads from <paramref name="stream"/>; <paramref name="name"/> is the source's, for errors.</summary>
    public Yuv4MpegReader(Stream stream, string name)
    {
        _stream = stream;
        _name = name;
    }

    /// <summary>Frame width, once <see cref="Started"/> is true.</summary>
    public int Width { get; private set; }

    /// <summary>Frame height, once <see cref="Started"/> is true.</summary>
    public int Height { get; private set; }

    /// <summary>
    /// Waits for the stream header, which comes with the first decoded frame. False when none comes (the input has no
    /// decodable frame, ffmpeg does not take the options, or it was ended).
    /// </summary>
    /// <exception cref="IOException">The header is not one of 4:2:0 frames of an even size in limited range.</exception>
    public bool Started() => _yuv is not null || ReadHeader();

    /// <summary>The next frame in BGR; false at the end of the stream.</summary>
    /// <exception cref="IOException">The stream is not YUV4MPEG, or lost its place.</exception>
    public bool TryRead(out Mat image)
    {
        image = null!;
        if (!Started() || !ReadFrame()) return false;
        var bgr = new Mat();
        try
        {
            Cv2.CvtColor(_yuv!, bgr, ColorConversionCodes.YUV2BGR_I420);
        }
        catch
        {
            bgr.Dispose();
            throw;
        }
        image = bgr;
        return true;
    }

    // "YUV4MPEG2 W640 H360 F25:1 Ip A1:1 C420jpeg ...": the size and the chroma layout. Frames in full range
    // ("XCOLORRANGE=FULL", which a newer ffmpeg may pass through) are refused: the conversion here is for limited
    // range, as ffmpeg's conversion to yuv420p gives.
    private bool ReadHeader()
    {
        string? header = ReadLine();
        if (header is null) return false;
        if (!header.StartsWith("YUV4MPEG2 ", StringComparison.Ordinal)) throw new IOException($"{_name}: ffmpeg delivered no YUV4MPEG stream");
        int width = 0, height = 0;
        string chroma = "420";
        foreach (var token in header.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1))
        {
            if (token[0] == 'W') _ = int.TryParse(token.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out width);
            else if (token[0] == 'H') _ = int.TryParse(token.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out height);
            else if (token[0] == 'C') chroma = token[1..];
            else if (token == "XCOLORRANGE=FULL") chroma = "full range";
        }
        if (width <= 0 || height <= 0 || width % 2 != 0 || height % 2 != 0 || !chroma.StartsWith("420", StringComparison.Ordinal))
            throw new IOException($"{_name}: ffmpeg delivered an unexpected stream ({header})");
        (Width, Height) = (width, height);
        _yuv = new Mat(height * 3 / 2, width, MatType.CV_8UC1);
        return true;
    }

    private unsafe bool ReadFrame()
    {
        // "FRAME" (six bytes with its newline; parameters, which ffmpeg does not write, up to a newline), then the Y, U
        // and V planes.
        Span<byte> marker = stackalloc byte[6];
        if (!ReadExactly(marker)) return false;
        if (!marker[..5].SequenceEqual("FRAME"u8)) throw new IOException($"{_name}: ffmpeg's frame stream lost its place");
        if (marker[5] != '\n' && ReadLine() is null) return false;
        var planes = new Span<byte>((void*)_yuv!.Data, Width * Height * 3 / 2);
        return ReadExactly(planes);
    }

    private bool ReadExactly(Span<byte> into)
    {
        int read = 0;
        while (read < into.Length)
        {
            int n = _stream.Read(into[read..]);
            if (n == 0) return false;
            read += n;
        }
        return true;
    }

    // A header line, read bytewise (a frame's is six bytes); null at the end of the stream.
    private string? ReadLine()
    {
        Span<byte> line = stackalloc byte[512];
        for (int length = 0; length < line.Length; length++)
        {
            int b = _stream.ReadByte();
            if (b < 0) return null;
            if (b == '\n') return Encoding.ASCII.GetString(line[..length]);
            line[length] = (byte)b;
        }
        throw new IOException($"{_name}: ffmpeg's frame stream has no header line");
    }

    /// <summary>Frees the frame buffer (the stream is the caller's).</summary>
    public void Dispose() => _yuv?.Dispose();
}
