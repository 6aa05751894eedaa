# NLP From Scratch: Translation with a Sequence to Sequence Network and Attention.
# The GRU encoder and the Bahdanau-attention decoder, trained a few steps with teacher
# forcing on a handful of synthetic sentence pairs (token ids), then a greedy decode.
# Dropout is 0 and the weights come from NumPy so that every library computes the same numbers.
import numpy as np
import torch
import torch.nn as nn
from torch import optim
import torch.nn.functional as F
from torch.utils.data import TensorDataset, DataLoader, RandomSampler

device = torch.device("cpu")
SOS_token = 0
EOS_token = 1
MAX_LENGTH = 6
rng = np.random.default_rng(5)


class EncoderRNN(nn.Module):
    def __init__(self, input_size, hidden_size, dropout_p=0.1):
        super(EncoderRNN, self).__init__()
        self.hidden_size = hidden_size

        self.embedding = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, input):
        embedded = self.dropout(self.embedding(input))
        output, hidden = self.gru(embedded)
        return output, hidden


class BahdanauAttention(nn.Module):
    def __init__(self, hidden_size):
        super(BahdanauAttention, self).__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query, keys):
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))
        scores = scores.squeeze(2).unsqueeze(1)

        weights = F.softmax(scores, dim=-1)
        context = torch.bmm(weights, keys)

        return context, weights


class AttnDecoderRNN(nn.Module):
    def __init__(self, hidden_size, output_size, dropout_p=0.1):
        super(AttnDecoderRNN, self).__init__()
        self.embedding = nn.Embedding(output_size, hidden_size)
        self.attention = BahdanauAttention(hidden_size)
        self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, output_size)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, encoder_outputs, encoder_hidden, target_tensor=None):
        batch_size = encoder_outputs.size(0)
        decoder_input = torch.empty(batch_size, 1, dtype=torch.long, device=device).fill_(SOS_token)
        decoder_hidden = encoder_hidden
        decoder_outputs = []
        attentions = []

        for i in range(MAX_LENGTH):
            decoder_output, decoder_hidden, attn_weights = self.forward_step(
                decoder_input, decoder_hidden, encoder_outputs
            )
            decoder_outputs.append(decoder_output)
            attentions.append(attn_weights)

            if target_tensor is not None:
                # Teacher forcing: Feed the target as the next input
                decoder_input = target_tensor[:, i].unsqueeze(1)  # Teacher forcing
            else:
                # Without teacher forcing: use its own predictions as the next input
                _, topi = decoder_output.topk(1)
                decoder_input = topi.squeeze(-1).detach()  # detach from history as input

        decoder_outputs = torch.cat(decoder_outputs, dim=1)
        decoder_outputs = F.log_softmax(decoder_outputs, dim=-1)
        attentions = torch.cat(attentions, dim=1)

        return decoder_outputs, decoder_hidden, attentions

    def forward_step(self, input, hidden, encoder_outputs):
        embedded = self.dropout(self.embedding(input))

        query = hidden.permute(1, 0, 2)
        context, attn_weights = self.attention(query, encoder_outputs)
        input_gru = torch.cat((embedded, context), dim=2)

        output, hidden = self.gru(input_gru, hidden)
        output = self.out(output)

        return output, hidden, attn_weights


# sentence pairs as token ids, EOS-terminated and zero-padded to MAX_LENGTH
n_words_in, n_words_out, n_pairs = 12, 10, 8
input_ids = np.zeros((n_pairs, MAX_LENGTH), dtype=np.int64)
target_ids = np.zeros((n_pairs, MAX_LENGTH), dtype=np.int64)
for idx in range(n_pairs):
    n = int(rng.integers(2, MAX_LENGTH))
    inp = rng.integers(2, n_words_in, n - 1).tolist() + [EOS_token]
    tgt = [(w * 3) % (n_words_out - 2) + 2 for w in inp[:-1]][::-1] + [EOS_token]
    input_ids[idx, :len(inp)] = inp
    target_ids[idx, :len(tgt)] = tgt
train_data = TensorDataset(torch.LongTensor(input_ids).to(device),
                           torch.LongTensor(target_ids).to(device))
train_dataloader = DataLoader(train_data, batch_size=4)  # the tutorial samples with RandomSampler
print(input_ids[0], target_ids[0])

hidden_size = 16
encoder = EncoderRNN(n_words_in, hidden_size, dropout_p=0.0).to(device)
decoder = AttnDecoderRNN(hidden_size, n_words_out, dropout_p=0.0).to(device)
for net in (encoder, decoder):
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.from_numpy(rng.uniform(-0.25, 0.25, tuple(p.shape)).astype(np.float32)))
print(encoder)
print(decoder)
print([n for n, _ in decoder.named_parameters()])


def train_epoch(dataloader, encoder, decoder, encoder_optimizer,
                decoder_optimizer, criterion):

    total_loss = 0
    for data in dataloader:
        input_tensor, target_tensor = data

        encoder_optimizer.zero_grad()
        decoder_optimizer.zero_grad()

        encoder_outputs, encoder_hidden = encoder(input_tensor)
        decoder_outputs, _, _ = decoder(encoder_outputs, encoder_hidden, target_tensor)

        loss = criterion(
            decoder_outputs.view(-1, decoder_outputs.size(-1)),
            target_tensor.view(-1)
        )
        loss.backward()

        encoder_optimizer.step()
        decoder_optimizer.step()

        total_loss += loss.item()

    return total_loss / len(dataloader)


learning_rate = 0.01
encoder_optimizer = optim.Adam(encoder.parameters(), lr=learning_rate)
decoder_optimizer = optim.Adam(decoder.parameters(), lr=learning_rate)
criterion = nn.NLLLoss()
for epoch in range(1, 31):
    loss = train_epoch(train_dataloader, encoder, decoder, encoder_optimizer, decoder_optimizer, criterion)
    if epoch % 5 == 0:
        print('epoch %d loss %.5f' % (epoch, loss))


def evaluate(encoder, decoder, input_tensor):
    with torch.no_grad():
        encoder_outputs, encoder_hidden = encoder(input_tensor)
        decoder_outputs, decoder_hidden, decoder_attn = decoder(encoder_outputs, encoder_hidden)

        _, topi = decoder_outputs.topk(1)
        decoded_ids = topi.squeeze()

        decoded_words = []
        for idx in decoded_ids:
            if idx.item() == EOS_token:
                decoded_words.append('<EOS>')
                break
            decoded_words.append(str(idx.item()))
    return decoded_words, decoder_attn


encoder.eval()
decoder.eval()
for k in range(3):
    words, attn = evaluate(encoder, decoder, train_data[k][0].unsqueeze(0))
    print('>', train_data[k][0].tolist())
    print('=', train_data[k][1].tolist())
    print('<', ' '.join(words))
print(attn.shape)
print(attn[0, :2])
print(encoder.gru.weight_hh_l0.grad[:2, :4] * 1e4)
print(decoder.out.bias.grad)
