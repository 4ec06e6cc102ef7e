package portable_model;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Batch server for portable's "jvm" runtime: binary requests on stdin, replies on stdout
 * (see portable/runtimes/_subprocess.py for the protocol). Exits at end of input.
 */
public final class Server {
    private Server() {}

    public static void main(String[] args) throws IOException {
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in, 1 << 16));
        BufferedOutputStream out = new BufferedOutputStream(System.out, 1 << 16);
        byte[] head = new byte[12];
        for (;;) {
            try { in.readFully(head); } catch (EOFException e) { return; }
            ByteBuffer h = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
            if (h.getInt() != 0x31515250) throw new IOException("bad request"); /* "PRQ1" */
            int n = h.getInt(), kind = h.getInt(), nf = Model.N_FEATURES;
            byte[] raw = new byte[8 * n * nf];
            in.readFully(raw);
            ByteBuffer xb = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
            String[][] s = new String[n][];
            if (Model.HAS_STRINGS) {
                byte[] len = new byte[4];
                for (int r = 0; r < n; r++) {
                    s[r] = new String[nf];
                    for (int j = 0; j < nf; j++) {
                        in.readFully(len);
                        int L = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getInt();
                        if (L < 0) continue;
                        byte[] b = new byte[L];
                        in.readFully(b);
                        s[r][j] = new String(b, StandardCharsets.UTF_8);
                    }
                }
            }
            int width = kind == 0 ? Model.N_MARGIN : Model.N_PREDICTION;
            ByteBuffer reply = ByteBuffer.allocate(16 + 8 * n * width).order(ByteOrder.LITTLE_ENDIAN);
            reply.putInt(0x31535250).putInt(0).putInt(n).putInt(width); /* "PRS1", ok */
            double[] x = new double[nf];
            int r = 0;
            try {
                for (; r < n; r++) {
                    for (int j = 0; j < nf; j++) x[j] = xb.getDouble();
                    double[] y = kind == 0 ? Model.margin(x, s[r]) : Model.predict(x, s[r]);
                    for (double v : y) reply.putDouble(v);
                }
                out.write(reply.array(), 0, reply.position());
            } catch (Model.UnknownCategoryException e) {
                int row = r;
                ByteBuffer err = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
                err.putInt(0x31535250).putInt(1).putInt(row).putInt(e.column);
                out.write(err.array());
            } catch (RuntimeException e) {
                byte[] msg = String.valueOf(e).getBytes(StandardCharsets.UTF_8);
                ByteBuffer err = ByteBuffer.allocate(12 + msg.length).order(ByteOrder.LITTLE_ENDIAN);
                err.putInt(0x31535250).putInt(2).putInt(msg.length).put(msg);
                out.write(err.array());
            }
            out.flush();
        }
    }
}
