// Trains a 3D convolutional autoencoder on synthetic volumes (spheres, cubes,
// tori): a Conv3d encoder, a ConvTranspose3d decoder, binary cross-entropy
// and Adam. Saves a safetensors checkpoint, reloads it and checks the
// reconstruction, and writes a PNG with input/reconstruction slices and the
// loss curve. Run with --help for the options.
//
// Read it as a template for your own 3D model: the model is a Module with
// registered submodules, the loop is zero_grad / forward / loss / backward / step.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <unistd.h>

#include "lucid/lucid.h"
#include "png.h"
#include "shapes3d.h"

namespace nn = lucid::nn;
using lucid::Tensor;

// Encoder: three stride-2 convolutions (size -> size/8); decoder: three
// stride-2 transposed convolutions back to size, then a sigmoid.
class Autoencoder3D : public nn::Module {
 public:
  Autoencoder3D() {
    enc1 = register_module("enc1", std::make_shared<nn::Conv3d>(1, 8, 3, 2, 1));
    enc2 = register_module("enc2", std::make_shared<nn::Conv3d>(8, 16, 3, 2, 1));
    enc3 = register_module("enc3", std::make_shared<nn::Conv3d>(16, 32, 3, 2, 1));
    dec1 = register_module("dec1", std::make_shared<nn::ConvTranspose3d>(32, 16, 4, 2, 1));
    dec2 = register_module("dec2", std::make_shared<nn::ConvTranspose3d>(16, 8, 4, 2, 1));
    dec3 = register_module("dec3", std::make_shared<nn::ConvTranspose3d>(8, 1, 4, 2, 1));
    act = register_module("act", std::make_shared<nn::LeakyReLU>(0.1));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = (*act)((*enc1)(x));
    h = (*act)((*enc2)(h));
    h = (*act)((*enc3)(h));
    h = (*act)((*dec1)(h));
    h = (*act)((*dec2)(h));
    return lucid::sigmoid((*dec3)(h));
  }
  std::string type_name() const override { return "Autoencoder3D"; }

  std::shared_ptr<nn::Conv3d> enc1, enc2, enc3;
  std::shared_ptr<nn::ConvTranspose3d> dec1, dec2, dec3;
  std::shared_ptr<nn::LeakyReLU> act;
};

struct Options {
  int steps = 600;
  int batch = 8;
  int size = 32;
  int samples = 96;
  double lr = 3e-3;
  std::uint64_t seed = 0;
  std::string out = "out";
};

static void usage() {
  std::cout << "usage: autoencoder3d [--steps N] [--batch N] [--size N] [--samples N] [--lr X] [--seed N] [--out DIR]\n"
               "  --steps    training steps (default 600)\n"
               "  --batch    volumes per step (default 8)\n"
               "  --size     volume edge, a multiple of 8 (default 32)\n"
               "  --samples  volumes in the synthetic dataset (default 96)\n"
               "  --lr       Adam learning rate (default 0.003)\n"
               "  --seed     random seed for data and weights (default 0)\n"
               "  --out      folder for autoencoder3d.safetensors and autoencoder3d.png (default out)\n";
}

static Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::cerr << "autoencoder3d: " << a << " needs a value\n";
      usage();
      std::exit(2);
    }
    const std::string v = argv[++i];
    try {
      if (a == "--steps") o.steps = std::stoi(v);
      else if (a == "--batch") o.batch = std::stoi(v);
      else if (a == "--size") o.size = std::stoi(v);
      else if (a == "--samples") o.samples = std::stoi(v);
      else if (a == "--lr") o.lr = std::stod(v);
      else if (a == "--seed") o.seed = std::stoull(v);
      else if (a == "--out") o.out = v;
      else throw std::invalid_argument(a);
    } catch (const std::exception&) {
      std::cerr << "autoencoder3d: bad option " << a << " " << v << "\n";
      usage();
      std::exit(2);
    }
  }
  if (o.steps < 1 || o.batch < 1 || o.samples < o.batch || o.size < 8 || o.size % 8 != 0) {
    std::cerr << "autoencoder3d: need steps >= 1, batch >= 1, samples >= batch, size a multiple of 8\n";
    std::exit(2);
  }
  return o;
}

// Rows [start, start + count) of a (N, ...) tensor, copied.
static Tensor rows(const Tensor& t, std::int64_t start, std::int64_t count) {
  lucid::Shape s = t.shape();
  const std::int64_t per = t.numel() / s[0];
  s[0] = count;
  Tensor out = Tensor::empty(s);
  std::copy(t.data<float>() + start * per, t.data<float>() + (start + count) * per, out.data<float>());
  return out;
}

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  std::filesystem::create_directories(opt.out);
  lucid::random::seed(opt.seed);
  const Tensor data = demo::make_shapes(opt.samples, opt.size, opt.seed + 1);
  auto model = std::make_shared<Autoencoder3D>();
  lucid::optim::Adam adam(model->parameters(), opt.lr);
  std::cout << *model << "\n" << opt.samples << " volumes of " << opt.size << "^3, " << lucid::get_num_threads()
            << " threads\n";

  const bool tty = isatty(fileno(stdout));
  std::vector<double> losses;
  double running = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int step = 0; step < opt.steps; ++step) {
    const std::int64_t start = (static_cast<std::int64_t>(step) * opt.batch) % (opt.samples - opt.batch + 1);
    const Tensor x = rows(data, start, opt.batch);
    adam.zero_grad();
    Tensor loss = lucid::binary_cross_entropy((*model)(x), x);
    loss.backward();
    adam.step();
    losses.push_back(loss.item());
    running = step == 0 ? losses.back() : 0.9 * running + 0.1 * losses.back();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (tty || (step + 1) % std::max(1, opt.steps / 10) == 0 || step + 1 == opt.steps) {
      const int filled = 30 * (step + 1) / opt.steps;
      std::printf("%s[%s%s] %d/%d  loss %.4f  %.1f volumes/s%s", tty ? "\r" : "", std::string(filled, '#').c_str(),
                  std::string(30 - filled, '.').c_str(), step + 1, opt.steps, running,
                  (step + 1) * opt.batch / secs, tty ? "" : "\n");
      std::fflush(stdout);
    }
  }
  if (tty) std::printf("\n");

  auto avg = [&](std::size_t from, std::size_t to) {
    double s = 0;
    for (std::size_t i = from; i < to; ++i) s += losses[i];
    return s / static_cast<double>(to - from);
  };
  const std::size_t w = std::max<std::size_t>(1, losses.size() / 20);
  const double first = avg(0, w), last = avg(losses.size() - w, losses.size());
  std::printf("loss %.4f -> %.4f: %.1fx lower\n", first, last, first / last);

  // Checkpoint: save, reload into a fresh model, and check the reconstruction.
  const std::string ckpt = opt.out + "/autoencoder3d.safetensors";
  lucid::save(model->state_dict(), ckpt);
  auto reloaded = std::make_shared<Autoencoder3D>();
  reloaded->load_state_dict(lucid::load(ckpt));
  const Tensor sample = rows(data, 0, std::min<std::int64_t>(4, opt.samples));
  Tensor recon, recon2;
  {
    lucid::NoGradGuard no_grad;
    recon = (*model)(sample);
    recon2 = (*reloaded)(sample);
  }
  const double diff = lucid::max_abs_diff(recon, recon2);
  std::printf("checkpoint %s reloaded: reconstruction %s (max difference %g)\n", ckpt.c_str(),
              diff == 0 ? "identical" : "DIFFERS", diff);

  // Picture: for each sample the z-slice with the most of the shape, input
  // (left) and reconstruction (right); the loss curve (log scale) below.
  const int S = opt.size, zoom = std::max(1, 128 / S), cell = S * zoom, n = static_cast<int>(sample.shape()[0]);
  demo::Canvas canvas(2 * cell + 30, n * (cell + 10) + 150);
  for (int i = 0; i < n; ++i) {
    std::int64_t best = S / 2;
    double most = -1;
    for (std::int64_t z = 0; z < S; ++z) {
      double mass = 0;
      for (std::int64_t k = 0; k < S * S; ++k) mass += sample.data<float>()[(i * S + z) * S * S + k];
      if (mass > most) most = mass, best = z;
    }
    const std::int64_t off = (static_cast<std::int64_t>(i) * S + best) * S * S;
    canvas.gray(10, 10 + i * (cell + 10), sample.data<float>() + off, S, S, zoom);
    canvas.gray(20 + cell, 10 + i * (cell + 10), recon.data<float>() + off, S, S, zoom);
  }
  canvas.log_curve(10, n * (cell + 10) + 10, 2 * cell + 10, 130, losses);
  const std::string png = opt.out + "/autoencoder3d.png";
  demo::write_png(canvas, png);
  std::printf("wrote %s\n", png.c_str());
  const bool ok = first / last >= 10 && diff == 0;
  if (!ok) std::printf("the loss did not fall 10x, or the checkpoint did not reproduce the model\n");
  return ok ? 0 : 1;
}
