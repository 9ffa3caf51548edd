using System.Net;
using System.Net.Sockets;

namespace Pipeline.Emulator.Tests.Support;

internal static class FreePort
{
    /// <summary>A loopback port nobody listens on right now (for processes that cannot be told to pick one).</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
